#!/usr/bin/env bash
# `make messages`: collect every translatable string into the Simplified
# Chinese catalogues, then compile them. Without source locations and without
# the creation date, so that two branches that add messages merge cleanly.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cd "$ROOT"
ignore=(-i .venv -i var -i node_modules -i .git -i test-artifacts -i tests -i bench)
manage makemessages -l zh_Hans --no-location --no-obsolete "${ignore[@]}" -v 0
manage makemessages -l zh_Hans --no-location --no-obsolete -d djangojs "${ignore[@]}" -i static/vendor -v 0
sed -i '/^"POT-Creation-Date: /d' locale/zh_Hans/LC_MESSAGES/django.po locale/zh_Hans/LC_MESSAGES/djangojs.po
compile_messages
log "Catalogues updated; messages still to translate (untranslated or fuzzy):"
for domain in django djangojs; do
    for which in --untranslated --only-fuzzy; do
        msgattrib "$which" --no-wrap "locale/zh_Hans/LC_MESSAGES/$domain.po" | grep '^msgid ' | grep -v '^msgid ""$' || true
    done
done
