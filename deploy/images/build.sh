#!/usr/bin/env bash
# Build the two container images from Debian packages, without pulling any base image.
#
#   deploy/images/build.sh            # base + app + rasa
#   deploy/images/build.sh app        # one image (base is built first if missing)
#
# Why this way: this workplace (and an air-gapped build host) cannot pull from an image
# registry. The base image is therefore made here: `debootstrap --variant=minbase bookworm`
# from Debian's mirror, imported with `podman import`. The Containerfiles take it as
# `--build-arg BASE=...`; anywhere a registry is reachable they build unchanged on
# `debian:bookworm-slim` (their default BASE).
#
# Rasa 3.6.21 runs on Python 3.10 only and Debian bookworm packages 3.11 only: the Rasa
# image copies the build host's pyenv-built CPython 3.10.13 (`pyenv prefix 3.10.13`, the
# same one `make` uses, built against bookworm's glibc 2.36 and libraries), staged in
# deploy/build/ (ignored by git). The app image uses bookworm's own python3 (3.11).
#
# Python packages come from the pinned locks (requirements/app.lock, rasa.lock) through
# uv, as the Makefile installs them; the host's uv cache is mounted so a rebuild does not
# download Rasa's 2 GB of wheels again.
#
# Needs root, buildah and podman (`apt-get install buildah podman debootstrap`).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

BUILD_DIR=${DEPLOY_BUILD_DIR:-/var/tmp/akto-deploy}     # debootstrap rootfs (about 200 MB)
STAGE=$ROOT/deploy/build                                # staged CPython (ignored by git)
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
TAG=${IMAGE_TAG:-$(git rev-parse --short HEAD)}
BASE_IMAGE=localhost/akto/debian-base:bookworm
UV_CACHE=${UV_CACHE_DIR:-$HOME/.cache/uv}
NICE=(nice -n 10)

say() { echo "[images] $*"; }

build_base() {
    if podman image exists "$BASE_IMAGE"; then
        say "base $BASE_IMAGE déjà là"
        return
    fi
    mkdir -p "$BUILD_DIR"
    if [ ! -x "$BUILD_DIR/rootfs-base/usr/bin/apt-get" ]; then
        say "debootstrap bookworm (minbase) depuis $MIRROR…"
        rm -rf "$BUILD_DIR/rootfs-base"
        "${NICE[@]}" debootstrap --variant=minbase bookworm "$BUILD_DIR/rootfs-base" "$MIRROR"
    fi
    # apt inside the image must reach the same mirror; no recommends, no docs.
    echo "deb $MIRROR bookworm main" > "$BUILD_DIR/rootfs-base/etc/apt/sources.list"
    echo "deb $MIRROR bookworm-updates main" >> "$BUILD_DIR/rootfs-base/etc/apt/sources.list"
    echo "deb ${MIRROR%/debian}/debian-security bookworm-security main" >> "$BUILD_DIR/rootfs-base/etc/apt/sources.list"
    printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
        > "$BUILD_DIR/rootfs-base/etc/apt/apt.conf.d/90no-recommends"
    rm -rf "$BUILD_DIR/rootfs-base/var/cache/apt/archives/"*.deb "$BUILD_DIR/rootfs-base/var/lib/apt/lists/"*
    say "import de la base → $BASE_IMAGE"
    tar -C "$BUILD_DIR/rootfs-base" --numeric-owner -c . | podman import --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE"
}

stage_python() {
    local prefix
    prefix=$(pyenv prefix 3.10.13 2>/dev/null) || { echo "pyenv 3.10.13 introuvable (pyenv install 3.10.13)"; exit 1; }
    if [ ! -x "$STAGE/cpython-3.10.13/bin/python3.10" ]; then
        say "copie de CPython 3.10.13 ($prefix) dans deploy/build/"
        mkdir -p "$STAGE"
        rm -rf "$STAGE/cpython-3.10.13"
        # The test suite (70 MB) and caches are not needed to run Rasa.
        rsync -a --exclude 'lib/python3.10/test/' --exclude '__pycache__/' --exclude 'lib/python3.10/site-packages/*' \
            "$prefix/" "$STAGE/cpython-3.10.13/"
    fi
}

bud() {  # bud <containerfile> <image>
    mkdir -p "$UV_CACHE"
    local ca=()
    if [ -n "${SSL_CERT_FILE:-}" ] && [ -f "$SSL_CERT_FILE" ]; then  # the host's CAs, for the build only
        ca=(-v "$SSL_CERT_FILE:/run/build-ca.crt:ro" --build-arg PIP_CERT=/run/build-ca.crt
            --build-arg SSL_CERT_FILE=/run/build-ca.crt)
    fi
    say "buildah bud $1 → $2:$TAG"
    "${NICE[@]}" buildah bud --isolation chroot --layers \
        --build-arg BASE="$BASE_IMAGE" \
        --ignorefile "${1%.Containerfile}.containerignore" \
        -v "$UV_CACHE:/root/.cache/uv" "${ca[@]}" \
        -f "$1" -t "$2:$TAG" -t "$2:latest" .
}

build_app() {
    # The console serves htmx and Chart.js from web/static/vendor (copied from npm by make).
    [ -f web/static/vendor/htmx.min.js ] || make .stamps/web
    bud deploy/images/app.Containerfile localhost/akto/app
}

build_rasa() {
    stage_python
    # The model of the current training data (trained first if missing) is baked in as
    # /app/models/model.tar.gz (see rasa.Containerfile for why).
    make model >/dev/null
    local model
    model=$(.venv/bin/python -c 'from stack.model import model_path; print(model_path())')
    mkdir -p "$STAGE/model"
    cp "$model" "$STAGE/model/model.tar.gz"
    say "modèle : $(basename "$model")"
    bud deploy/images/rasa.Containerfile localhost/akto/rasa
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(app rasa)
build_base
for target in "${targets[@]}"; do
    case $target in
        base) ;;
        app) build_app ;;
        rasa) build_rasa ;;
        *) echo "cible inconnue : $target (base, app, rasa)"; exit 2 ;;
    esac
done
podman images --filter reference='localhost/akto/*'
