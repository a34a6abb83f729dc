"""Schemas of the content files, checked entry by entry.

Every problem becomes a :class:`ContentError` naming the file, the line, the entry
and what to do. Nothing is imported while one error remains (see :mod:`.importer`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from akto_data.catalogue.yamlsource import ContentError, ContentFileError, read

#: Where young people live, in the order choice buttons show them.
HOME_TERRITORIES = ("martinique", "guadeloupe", "guyane", "reunion", "mayotte", "saint_martin", "saint_barthelemy")
#: Plus mainland France, a destination only.
TERRITORIES = (*HOME_TERRITORIES, "hexagone")
INTEREST_TAGS = ("aider", "soigner", "contact", "manuel", "technique", "exterieur", "nature", "cuisine", "creatif",
                 "organiser", "bouger", "proteger", "enfants", "conduire", "commerce", "equipe")
AID_TOPICS = ("ask_mobility_aid", "ask_driving_licence_aid", "ask_housing_aid", "ask_social_support",
              "ask_employer_aid", "ask_aids")
WHO_TO_ASK = ("cfa", "akto", "ladom", "action_logement", "employer")
STATUSES = ("apprentice", "future_apprentice", "jobseeker", "employer")
NEEDS = ("mobility", "licence", "housing", "money", "transport")
UNITS = ("once", "per_month", "per_meal", "per_night", "up_to")
ROME = re.compile(r"^[A-N]\d{4}$")
ID = re.compile(r"^[a-z][a-z0-9_]*$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")


@dataclass
class Checker:
    """Collects errors for one file."""

    file: str
    errors: list[ContentError] = field(default_factory=list)

    def error(self, node: Any, entry: str, problem: str, fix: str, key: str = "") -> None:
        self.errors.append(ContentError(self.file, getattr(node, "line", 0), entry, problem, fix, key, id(node)))

    def need(self, node: dict, key: str, kind: type | tuple[type, ...], entry: str, fix: str) -> Any:
        value = node.get(key) if isinstance(node, dict) else None
        if value is None or (isinstance(value, str) and not value.strip()):
            self.error(node, entry, f"« {key} » manquant", fix, key)
            return None
        if not isinstance(value, kind):
            self.error(node, entry, f"« {key} » a un type inattendu ({type(value).__name__})", fix, key)
            return None
        return value

    def one_of(self, node: dict, key: str, allowed: tuple[str, ...], entry: str) -> Any:
        value = node.get(key)
        values = value if isinstance(value, list) else [value]
        for item in values:
            if item not in allowed:
                self.error(node, entry, f"« {key} » : valeur inconnue {item!r}", f"choisir parmi : {', '.join(allowed)}",
                           key)
        return value

    def dates(self, node: dict, entry: str) -> None:
        verified = self.need(node, "verified_on", date, entry, "ajouter verified_on: AAAA-MM-JJ (date de vérification)")
        review = self.need(node, "review_on", date, entry, "ajouter review_on: AAAA-MM-JJ (date de prochaine vérification)")
        if verified and review and review <= verified:
            self.error(node, entry, "review_on n'est pas après verified_on", "mettre une date de révision future",
                       "review_on")
        if verified and verified > date.today():
            self.error(node, entry, f"verified_on {verified} est dans le futur", "mettre la date réelle de vérification",
                       "verified_on")

    def source(self, node: dict, entry: str) -> None:
        self.need(node, "source", str, entry, "indiquer d'où vient l'information (texte, site, date)")

    def identity(self, node: dict, key: str, seen: dict[str, int], fix: str,
                 pattern: re.Pattern[str] | None = None, pattern_fix: str = "") -> str:
        """The entry's identifier (``"?"`` if missing): present, well-formed, unique in the file."""
        value = self.need(node, key, str, "?", fix)
        if not value:
            return "?"
        if pattern is not None and not pattern.match(value):
            self.error(node, value, f"{key} invalide {value!r}", pattern_fix, key)
        if value in seen:
            self.error(node, value, f"identifiant en double (déjà ligne {seen[value]})", "donner un identifiant unique",
                       key)
        seen[value] = getattr(node, "line", 0)
        return value


def _list(checker: Checker, data: Any, key: str) -> list[dict[str, Any]]:
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        checker.error(data, "", f"la liste « {key}: » est absente", f"le fichier doit commencer par « {key}: »")
        return []
    return data[key]


def check_territories(data: Any, checker: Checker) -> list[dict]:
    rows = _list(checker, data, "territories")
    seen: dict[str, int] = {}
    for row in rows:
        entry = checker.identity(row, "id", seen, "ajouter id")
        if entry != "?":
            checker.one_of(row, "id", TERRITORIES, entry)
        for key in ("name", "in_the", "locale", "timezone"):
            checker.need(row, key, str, entry, f"ajouter {key}")
        towns = row.get("towns")
        if entry in HOME_TERRITORIES and (not isinstance(towns, list) or not towns
                                          or not all(isinstance(town, str) and town.strip() for town in towns)):
            checker.error(row, entry, "liste « towns: » absente ou vide",
                          "lister les communes, une par ligne, ex. - \"Le Lamentin\" (« | » pour une autre écriture)")
        if any(key in row for key in ("center", "radius_km", "area_source")):
            _check_area(row, entry, checker)
    return rows


def _check_area(row: dict, entry: str, checker: Checker) -> None:
    """The optional area a shared Telegram location is matched to: centre, radius, and their source."""
    fix = "center: {lat: 14.67, lon: -61.00} (degrés décimaux), radius_km: 40, area_source: \"d'où viennent ces chiffres\""
    center = checker.need(row, "center", dict, entry, fix)
    if center is not None:
        for key, limit in (("lat", 90), ("lon", 180)):
            value = center.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not -limit <= value <= limit:
                checker.error(row, entry, f"center.{key} invalide {value!r}", f"un nombre entre -{limit} et {limit}",
                              "center")
    radius = checker.need(row, "radius_km", (int, float), entry, fix)
    if radius is not None and (isinstance(radius, bool) or radius <= 0):
        checker.error(row, entry, f"radius_km invalide {radius!r}", "un nombre de kilomètres positif", "radius_km")
    checker.need(row, "area_source", str, entry, fix)


def check_occupations(data: Any, checker: Checker) -> tuple[list[dict], dict]:
    """The occupations, and when their "recruits" claims were last checked (file-level dates)."""
    rows = _list(checker, data, "occupations")
    checked_on: dict = {}
    if isinstance(data, dict):
        checker.dates(data, "recrutements")
        checked_on = {key: data.get(key) for key in ("verified_on", "review_on")}
    seen: dict[str, int] = {}
    for row in rows:
        entry = checker.identity(row, "rome", seen, "ajouter le code ROME (5 caractères, ex. K2503)",
                                 ROME, "une lettre A-N puis 4 chiffres, ex. H2913")
        for key in ("name", "what_you_do", "where"):
            checker.need(row, key, str, entry, f"ajouter {key} (phrase simple, en « tu »)")
        checker.need(row, "qualities", list, entry, "lister 2 à 4 qualités")
        if checker.need(row, "interests", list, entry, "lister 2 à 4 centres d'intérêt du quiz"):
            checker.one_of(row, "interests", INTEREST_TAGS, entry)
        diplomas = checker.need(row, "diplomas", list, entry, "lister au moins un diplôme {name, level}") or []
        for diploma in diplomas:
            checker.need(diploma, "name", str, entry, "donner le nom du diplôme")
            level = diploma.get("level") if isinstance(diploma, dict) else None
            if level not in (3, 4, 5, 6, 7):
                checker.error(diploma, entry, f"niveau de diplôme {level!r} invalide",
                              "3 CAP/BEP, 4 bac, 5 bac+2, 6 licence/BUT, 7 master", "level")
        for claim in row.get("recruits") or []:
            checker.one_of(claim, "territory", TERRITORIES, entry)
            if not isinstance(claim.get("recruits"), bool):
                checker.error(claim, entry, "« recruits » doit valoir true ou false", "écrire recruits: true", "recruits")
            checker.source(claim, entry)
            if not isinstance(claim.get("year"), int):
                checker.error(claim, entry, "année de la source manquante", "ajouter year: AAAA", "year")
    return rows, checked_on


def check_aids(data: Any, checker: Checker) -> list[dict]:
    rows = _list(checker, data, "aids")
    seen: dict[str, int] = {}
    for row in rows:
        entry = checker.identity(row, "id", seen, "ajouter id (minuscules_et_tirets_bas)",
                                 ID, "minuscules, chiffres et _ seulement")
        for key in ("name", "summary", "how_to_apply"):
            checker.need(row, key, str, entry, f"ajouter {key}")
        checker.one_of(row, "topic", AID_TOPICS, entry)
        checker.one_of(row, "who_to_ask", WHO_TO_ASK, entry)
        rules = row.get("eligibility") or {}
        for key, allowed in (("status", STATUSES), ("territories", HOME_TERRITORIES),
                             ("destinations", ("hexagone", "other_overseas")), ("needs", NEEDS),
                             ("company_size", ("under_250", "from_250"))):
            if key in rules:
                checker.one_of(rules, key, allowed, entry)
        periods = row.get("amounts")
        if not isinstance(periods, list):
            checker.error(row, entry, "« amounts » manquant", "mettre amounts: [] si aucun montant n'est publié",
                          "amounts")
            periods = []
        ordered = sorted(periods, key=lambda p: p.get("start") if isinstance(p.get("start"), date) else date.min)
        for index, period in enumerate(ordered):
            start, end = period.get("start"), period.get("end")
            if not isinstance(start, date):
                checker.error(period, entry, "période sans date de début", "ajouter start: AAAA-MM-JJ", "start")
                continue
            if end is not None and (not isinstance(end, date) or end < start):
                checker.error(period, entry, "fin de période invalide", "end: AAAA-MM-JJ après start, ou end: null",
                              "end")
            if index:
                previous_end = ordered[index - 1].get("end")
                if previous_end is None:
                    checker.error(period, entry, "la période précédente n'a pas de fin",
                                  "donner une date end à la période précédente", "start")
                elif isinstance(previous_end, date) and start <= previous_end:
                    checker.error(period, entry, "périodes qui se chevauchent",
                                  "commencer après la fin de la période précédente", "start")
            for item in period.get("items") or []:
                if not isinstance(item.get("amount"), (int, float)) or item["amount"] <= 0:
                    checker.error(item, entry, "montant manquant ou négatif", "amount: 500 (en euros)", "amount")
                checker.one_of(item, "unit", UNITS, entry)
        checker.source(row, entry)
        checker.dates(row, entry)
    for row in rows:
        for other in row.get("cumulates_with") or []:
            if other not in seen:
                checker.error(row, row.get("id", "?"), f"cumulates_with : aide inconnue {other!r}",
                              "utiliser l'id d'une aide de ce fichier", "cumulates_with")
    return rows


def check_cfas(data: Any, checker: Checker, occupations: set[str]) -> list[dict]:
    rows = _list(checker, data, "cfas")
    seen: dict[str, int] = {}
    for row in rows:
        entry = checker.identity(row, "id", seen, "ajouter id (ex. mq_umih)", ID, "minuscules, chiffres et _ seulement")
        checker.need(row, "name", str, entry, "ajouter name")
        checker.need(row, "town", str, entry, "ajouter town")
        checker.one_of(row, "territory", HOME_TERRITORIES, entry)
        for training in checker.need(row, "trainings", list, entry, "lister les formations {rome, diploma, level}") or []:
            if training.get("rome") not in occupations:
                checker.error(training, entry, f"métier {training.get('rome')!r} absent de occupations.yml",
                              "utiliser un code ROME de content/occupations.yml ou y ajouter le métier", "rome")
            checker.need(training, "diploma", str, entry, "nom du diplôme préparé")
            if training.get("level") not in (3, 4, 5, 6, 7):
                checker.error(training, entry, "niveau invalide", "3 à 7", "level")
        checker.source(row, entry)
        checker.dates(row, entry)
    return rows


#: Hosts a plain-http webhook may use (demos and tests on this machine only).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def webhook_url_problem(url: str) -> str | None:
    """Why ``url`` cannot receive leads, or None; checked by parsing, never by prefix.

    A prefix test let ``http://localhost@evil.example/`` through (user info, then the
    real host), and ``https://[::1/hook`` passed the check but made every send raise.
    The outbox worker runs the same check before each call.
    """
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        return "espace ou caractère de contrôle"
    try:
        from urllib.parse import urlsplit

        import httpx

        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
        httpx.URL(url)  # what the worker will send to
    except (ValueError, httpx.InvalidURL):
        return "adresse illisible"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "identifiant ou mot de passe dans l'adresse (user@…)"
    if not parts.hostname:
        return "pas de nom d'hôte"
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
        return None
    return "https:// obligatoire"


def check_delivery(data: Any, checker: Checker, cfas: set[str]) -> dict[str, dict]:
    if not isinstance(data, dict) or not isinstance(data.get("cfa_delivery"), dict):
        checker.error(data, "", "« cfa_delivery: » absent", "le fichier doit commencer par « cfa_delivery: »")
        return {}
    for cfa_id, settings in data["cfa_delivery"].items():
        if cfa_id not in cfas:
            checker.error(settings, cfa_id, "CFA inconnu", "utiliser un id de content/cfas.yml")
        email = (settings or {}).get("email")
        if not email or not EMAIL.match(str(email)):
            checker.error(settings, cfa_id, f"adresse e-mail invalide {email!r}", "ex. contact@cfa-exemple.fr")
        url = (settings or {}).get("webhook_url")
        problem = webhook_url_problem(str(url)) if url else None
        if problem:
            checker.error(settings, cfa_id, f"webhook_url invalide {url!r} : {problem}",
                          "une adresse https://hote.exemple/chemin, sans identifiant ni mot de passe")
        if url and len(str((settings or {}).get("webhook_secret") or "")) < 16:
            checker.error(settings, cfa_id, "webhook_secret absent ou trop court",
                          "ajouter webhook_secret: (au moins 16 caractères, partagé avec le CFA)")
    return data["cfa_delivery"]


def check_faq(data: Any, checker: Checker, topics: set[str]) -> list[dict]:
    rows = _list(checker, data, "faq")
    seen: dict[str, int] = {}
    for row in rows:
        entry = checker.identity(row, "topic", seen, "ajouter topic (nom de l'intention)")
        if entry != "?" and topics and entry not in topics:
            checker.error(row, entry, "sujet inconnu du domaine Rasa", f"choisir parmi : {', '.join(sorted(topics))}",
                          "topic")
        checker.need(row, "answer", str, entry, "écrire la réponse (courte, en « tu »)")
        checker.source(row, entry)
        checker.dates(row, entry)
    return rows


def check_quiz(data: Any, checker: Checker) -> dict:
    quiz = data.get("quiz") if isinstance(data, dict) else None
    if not isinstance(quiz, dict):
        checker.error(data, "", "« quiz: » absent", "le fichier doit commencer par « quiz: »")
        return {}
    questions = quiz.get("questions") or []
    if not 8 <= len(questions) <= 12:
        checker.error(quiz, "", f"{len(questions)} questions", "le quiz doit avoir de 8 à 12 questions", "questions")
    for question in questions:
        qid = question.get("id", "?")
        checker.need(question, "text", str, qid, "écrire la question")
        answers = question.get("answers") or []
        if not 2 <= len(answers) <= 4:
            checker.error(question, qid, f"{len(answers)} réponses", "2 à 4 réponses par question", "answers")
        for answer in answers:
            label = checker.need(answer, "label", str, qid, "écrire le texte du bouton")
            if label and len(label) > 30:
                checker.error(answer, qid, f"bouton trop long ({len(label)} caractères)", "30 caractères au plus",
                              "label")
            for tag in (answer.get("tags") or {}):
                if tag not in INTEREST_TAGS:
                    checker.error(answer, qid, f"tag inconnu {tag!r}", f"choisir parmi : {', '.join(INTEREST_TAGS)}",
                                  "tags")
    missing = [tag for tag in INTEREST_TAGS if tag not in (quiz.get("reasons") or {})]
    if missing:
        checker.error(quiz, "reasons", f"explication manquante pour {', '.join(missing)}",
                      "ajouter « tag: \"aimes …\" » dans reasons", "reasons")
    return quiz


def check_pay(data: Any, checker: Checker) -> dict:
    if not isinstance(data, dict) or not isinstance(data.get("grid"), list) or not isinstance(data.get("smic"), list):
        checker.error(data, "", "« grid: » ou « smic: » absent", "voir le modèle en tête du fichier")
        return {}
    checker.source(data, "grille")
    checker.dates(data, "grille")
    for band in data["grid"]:
        for year in (1, 2, 3):
            value = band.get(f"year_{year}")
            if not isinstance(value, (int, float)) or not 0 < value <= 100:
                checker.error(band, f"{band.get('min_age')}-{band.get('max_age')} ans", f"year_{year} invalide",
                              "un pourcentage du SMIC entre 1 et 100")
    for group in data["smic"]:
        for period in group.get("periods") or []:
            checker.source(period, "SMIC")
            if not isinstance(period.get("start"), date):
                checker.error(period, "SMIC", "période sans date de début", "start: AAAA-MM-JJ")
    return data


#: The content files staff publish, in check order (the private delivery file is not one of them).
PUBLIC_FILES = ("territories.yml", "occupations.yml", "aids.yml", "cfas.yml", "faq.yml", "quiz.yml",
                "apprentice_pay.yml")
PRIVATE_DELIVERY = "private/cfa_delivery.yml"
EXAMPLE_DELIVERY = "cfa_delivery.example.yml"


@dataclass
class Catalogue:
    """Everything the content files say, once checked."""

    territories: list[dict]
    occupations: list[dict]
    occupations_checked: dict
    aids: list[dict]
    cfas: list[dict]
    #: Where each CFA's leads go; None when no delivery file was given (keep what runs).
    delivery: dict[str, dict] | None
    faq: list[dict]
    quiz: dict
    pay: dict


class _Missing:
    """Stands for a file that could not be read (its own error is already listed)."""


UNREADABLE = _Missing()


def check_documents(documents: dict[str, Any], topics: set[str] | None = None,
                    delivery: tuple[str, Any] | None = None) -> tuple[Catalogue, list[ContentError]]:
    """Run every schema check on the parsed content files (``{"faq.yml": {...}, ...}``).

    The YAML import and the staff console both call this, on the same document shape,
    so they refuse the same things with the same French messages. ``delivery`` is the
    private delivery file as ``(name, data)``; None keeps the delivery settings in force.
    """
    errors: list[ContentError] = []

    def checked(name: str, data: Any, check, *extra):  # type: ignore[no-untyped-def]
        if data is UNREADABLE:
            return None
        checker = Checker(name)
        result = check(data, checker, *extra)
        errors.extend(checker.errors)
        return result

    def doc(name: str) -> Any:
        return documents.get(name)

    territories = checked("territories.yml", doc("territories.yml"), check_territories) or []
    occupations, occupations_checked = checked("occupations.yml", doc("occupations.yml"), check_occupations) or ([], {})
    aids = checked("aids.yml", doc("aids.yml"), check_aids) or []
    cfas = checked("cfas.yml", doc("cfas.yml"), check_cfas, {o.get("rome") for o in occupations}) or []
    sent: dict[str, dict] | None = None
    if delivery is not None:
        sent = checked(delivery[0], delivery[1], check_delivery, {c.get("id") for c in cfas}) or {}
    faq = checked("faq.yml", doc("faq.yml"), check_faq, topics or set()) or []
    quiz = checked("quiz.yml", doc("quiz.yml"), check_quiz) or {}
    pay = checked("apprentice_pay.yml", doc("apprentice_pay.yml"), check_pay) or {}
    return Catalogue(territories, occupations, occupations_checked, aids, cfas, sent, faq, quiz, pay), errors


def read_documents(directory: Path) -> tuple[dict[str, Any], tuple[str, Any] | None, list[ContentError]]:
    """The public content files of ``directory``, its delivery file (private, else the example,
    else None) and the errors of files that could not be read."""
    errors: list[ContentError] = []
    documents: dict[str, Any] = {}

    def parsed(name: str) -> Any:
        try:
            return read(directory / name)
        except ContentFileError as exc:
            errors.extend(exc.errors)
            return UNREADABLE

    for name in PUBLIC_FILES:
        documents[name] = parsed(name)
    delivery = None
    for name in (PRIVATE_DELIVERY, EXAMPLE_DELIVERY):
        if (directory / name).exists():
            delivery = (name, parsed(name))
            break
    return documents, delivery, errors


def load_catalogue(directory: Path, topics: set[str] | None = None) -> Catalogue:
    """Read and check every content file; raise :class:`ContentFileError` listing all problems."""
    documents, delivery, errors = read_documents(directory)
    catalogue, problems = check_documents(documents, topics, delivery)
    errors.extend(problems)
    if errors:
        raise ContentFileError(errors)
    return catalogue
