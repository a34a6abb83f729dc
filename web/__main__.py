"""``python -m web``: serve the staff console, or create the first admin account.

    python -m web                       # serve on CONSOLE_LISTEN:CONSOLE_PORT (127.0.0.1:8080)
    python -m web create-admin --email alice@akto.fr --name "Alice Martin"
        (asks the password twice; CONSOLE_ADMIN_PASSWORD gives it without a prompt)
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys

from akto_data.db import create_schema, session_scope
from akto_data.logs import configure_logging
from akto_data.settings import load_dotenv, load_settings
from akto_data.staff.accounts import AccountError, create_account

log = logging.getLogger("web")


def create_admin(email: str, name: str) -> int:
    password = os.environ.get("CONSOLE_ADMIN_PASSWORD")
    if not password:
        password = getpass.getpass("Mot de passe (12 caractères au moins) : ")
        if getpass.getpass("Encore une fois : ") != password:
            print("Les deux mots de passe diffèrent : rien n'a été créé.")
            return 1
    create_schema()
    try:
        with session_scope() as session:
            create_account(session, email=email, name=name, role="admin", password=password, actor="commande create-admin")
    except AccountError as exc:
        print(f"Compte non créé : {exc}")
        return 1
    print(f"Compte administrateur créé pour {email}. Connexion : http://{load_settings().console_listen}:"
          f"{load_settings().console_port}/login")
    return 0


def serve() -> int:
    import uvicorn

    from web.app import create_app

    settings = load_settings()
    create_schema()  # once, at start
    app = create_app(settings)
    print(f"CONSOLE_READY http://{settings.console_listen}:{settings.console_port}", flush=True)
    uvicorn.run(app, host=settings.console_listen, port=settings.console_port, access_log=False,
                log_config=None, proxy_headers=settings.console_https, timeout_keep_alive=5)
    return 0


def main(argv: list[str]) -> int:
    load_dotenv()
    configure_logging(load_settings().log_level)
    parser = argparse.ArgumentParser(prog="python -m web", description="Console du personnel AKTO.")
    sub = parser.add_subparsers(dest="command")
    admin = sub.add_parser("create-admin", help="crée un compte administrateur (le premier, ou un autre)")
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", required=True)
    sub.add_parser("serve", help="sert la console (par défaut)")
    args = parser.parse_args(argv)
    if args.command == "create-admin":
        return create_admin(args.email, args.name)
    return serve()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
