# Two commands do everything on a fresh machine: `make run` and `make test`.
# Environments are created on first use and reused after (stamps in .stamps/).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PY311 ?= $(shell command -v python3.11 || command -v python3)
PY310 ?= $(shell pyenv prefix 3.10.13 2>/dev/null)/bin/python3.10
VENV := .venv
RASA_VENV := .venv-rasa
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
RASA := PYTHONPATH=$(CURDIR) $(RASA_VENV)/bin/rasa
STAMPS := .stamps
RASA_DATA := --domain domain --data nlu stories --config config.yml

.PHONY: help admin check install run test test-unit test-e2e validate conversations content-check content-import content-export model eval review bench load console-bench lock clean

help:
	@echo "make run   - lance l'assistant (console sans TELEGRAM_BOT_TOKEN, Telegram sinon)"
	@echo "make test  - installe ce qu'il faut et passe tous les tests (make check d'abord)"
	@echo "make check - ruff (style, imports) et mypy (types) sur notre code Python 3.11"
	@echo "make model - entraîne le modèle Rasa si les données ont changé"
	@echo "make content-check  - vérifie le contenu (schéma, sources, dates, exemples, Rasa)"
	@echo "make content-import - importe content/ dans la base (tout ou rien, une nouvelle version)"
	@echo "make content-export - écrit la version en service (la base) dans content/ ; VERSION=n pour une autre"
	@echo "make eval  - compréhension mesurée sur le jeu de test mis de côté (+ baseline)"
	@echo "make review - questions non comprises et avis 👍/👎 (pour l'équipe AKTO)"
	@echo "make bench - mesure démarrage, mémoire et latence de la pile"
	@echo "make load  - charge (1, 4, 16, 64 conversations à la fois) : msg/s, latences, ordre ; ARGS=\"--levels 1,16 --seconds 20\""
	@echo "make admin EMAIL=... NAME=... - crée un compte administrateur de la console"
	@echo "make lock  - recalcule les versions épinglées (requirements/*.lock)"

$(PY):
	$(PY311) -m venv $(VENV)

$(UV): | $(PY)
	$(PY) -m pip install -q uv==0.13.8

$(STAMPS)/app: requirements/app.lock | $(UV)
	$(UV) pip install --python $(PY) -q -r requirements/app.lock
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/rasa: requirements/rasa.lock | $(UV)
	@test -x "$(PY310)" || { echo "Python 3.10.13 introuvable (pyenv install 3.10.13), voir README"; exit 1; }
	@test -x $(RASA_VENV)/bin/python || $(UV) venv -q --python "$(PY310)" $(RASA_VENV)
	VIRTUAL_ENV=$(RASA_VENV) $(UV) pip install -q -r requirements/rasa.lock
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/emulator: tests/emulator/package.json tests/emulator/package-lock.json
	cd tests/emulator && npm ci --no-audit --no-fund --loglevel=error
	@mkdir -p $(STAMPS) && touch $@

# Staff console assets (htmx, Chart.js) from the npm registry, served locally by the console.
$(STAMPS)/web: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	mkdir -p web/static/vendor
	cp web/node_modules/htmx.org/dist/htmx.min.js web/node_modules/chart.js/dist/chart.umd.js web/static/vendor/
	@mkdir -p $(STAMPS) && touch $@

# Browser tests drive Debian's Chromium with Playwright (its own browser download cannot work here).
$(STAMPS)/browser:
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	@mkdir -p $(STAMPS) && touch $@

# The production topology's load balancer (stack/topology.py, RASA_SERVERS=…): Debian's HAProxy.
$(STAMPS)/haproxy:
	@test -x /usr/sbin/haproxy || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy; }
	@mkdir -p $(STAMPS) && touch $@

install: $(STAMPS)/app $(STAMPS)/rasa $(STAMPS)/web

run: install $(if $(RASA_SERVERS),$(STAMPS)/haproxy)
	$(PY) -m stack.run

model: install
	$(PY) -m stack.model

content-check: install
	$(PY) -m akto_data.catalogue.check

content-import: $(STAMPS)/app
	$(PY) -m akto_data.catalogue.importer

content-export: $(STAMPS)/app
	$(PY) -m akto_data.catalogue.export $(if $(VERSION),--version $(VERSION))

eval: install
	$(PY) -m stack.nlu_eval

review: $(STAMPS)/app
	$(PY) -m akto_data.review

bench: install
	$(PY) -m stack.bench

# Load benchmark: ARGS passes options, e.g. make load ARGS="--levels 1,16 --no-standard" (python -m stack.load --help);
# --telegram needs the emulator, --topology HAProxy.
load: install $(if $(findstring --telegram,$(ARGS)),$(STAMPS)/emulator) $(if $(findstring --topology,$(ARGS)),$(STAMPS)/haproxy)
	$(PY) -m stack.load $(ARGS)

console-bench: $(STAMPS)/app
	$(PY) -m web.bench

admin: $(STAMPS)/app
	$(PY) -m web create-admin --email "$(EMAIL)" --name "$(NAME)"

validate: install
	$(RASA) data validate $(RASA_DATA)

conversations: model
	$(RASA) test core --model "$$($(PY) -c 'from stack.model import model_path; print(model_path())')" \
		--stories tests/conversations --fail-on-prediction-errors --out results/conversations

check: $(STAMPS)/app
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: check install $(STAMPS)/emulator $(STAMPS)/browser $(STAMPS)/haproxy validate conversations
	$(PY) -m pytest -q

test-unit: $(STAMPS)/app
	$(PY) -m pytest -q -m "not e2e"

test-e2e: install $(STAMPS)/emulator $(STAMPS)/browser $(STAMPS)/haproxy
	$(PY) -m pytest -q -m e2e

lock: | $(UV)
	$(UV) pip compile -q --python-version 3.11 pyproject.toml --extra dev -o requirements/app.lock
	$(UV) pip compile -q --python-version 3.10 --python-platform x86_64-unknown-linux-gnu requirements/rasa.in -o requirements/rasa.lock

# Deployment files (deploy/, README "Deployment"): checks without a Docker daemon or a cluster
# (kubernetes-validate, docker-compose config, haproxy -c, tests/unit/test_deploy*.py), and the
# two images built from Debian packages (root, buildah/podman/debootstrap; minutes).
.PHONY: deploy-check deploy-images
deploy-check: $(STAMPS)/app
	bash deploy/validate.sh

deploy-images: install
	bash deploy/images/build.sh

clean:
	rm -rf $(STAMPS) $(VENV) $(RASA_VENV) tests/emulator/node_modules web/node_modules web/static/vendor
