#!/bin/sh
# Creates the Docker secrets docker-compose.yml mounts, in ./secrets next to
# it, with random values. A file that exists is kept, so running it again
# changes nothing; delete a file to make a new value (the database password
# only before the first start: PostgreSQL keeps the one it was created with).
# The folder is private to its owner; the files are readable by the
# containers' own users, which bind-mounted secrets need.
set -eu
cd "${1:-$(dirname "$0")/..}"
mkdir -p secrets
chmod 700 secrets
umask 022

random() {
    # Letters and digits only: the values go into URLs and JSON unquoted.
    LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c "$1"
}

make_secret() {
    if [ ! -s "secrets/$1" ]; then
        printf '%s\n' "$2" >"secrets/$1"
        echo "created secrets/$1"
    fi
}

make_secret secret_key "$(random 50)"
make_secret postgres_password "$(random 32)"
make_secret database_url "postgres://shrutik:$(cat secrets/postgres_password)@postgres:5432/shrutik"
make_secret s3_secret_key "$(random 40)"
make_secret s3_admin_secret_key "$(random 40)"
make_secret metrics_token "$(random 40)"
make_secret export_speaker_key "$(random 50)"
