#!/bin/bash
# Builds the two downloads from the single binary (`make packages` runs it after `make binary`):
#   OUT/dalleserver-VERSION-linux-x86_64.tar.gz  the binary, the unit, the env example, README
#   OUT/dalleserver_VERSION_amd64.deb            the same, installed as a Debian/Ubuntu service
# Usage: deploy/build-packages.sh BINARY OUT. Needs dpkg-deb, tar, gzip; nothing else.
set -euo pipefail
BINARY=$(realpath "$1")
OUT=$(realpath "$2")
DEPLOY=$(dirname "$(realpath "$0")")
REPO=$(dirname "$DEPLOY")
VERSION=$("$BINARY" --version | awk '{print $2}')
# fixed timestamps and owners, so the same binary gives the same archives
EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || echo 0)}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"

# the tarball: one folder an operator unpacks and installs by hand (docs/operations.md)
name="dalleserver-$VERSION-linux-x86_64"
mkdir "$WORK/$name"
install -m 0755 "$BINARY" "$WORK/$name/dalleserver"
install -m 0644 "$DEPLOY/dalleserver.service" "$WORK/$name/dalleserver.service"
install -m 0644 "$DEPLOY/env.example" "$WORK/$name/env.example"
install -m 0644 "$REPO/README.md" "$WORK/$name/README.md"
install -m 0644 "$REPO/docs/operations.md" "$WORK/$name/operations.md"
tar --sort=name --mtime="@$EPOCH" --owner=0 --group=0 --numeric-owner \
    -C "$WORK" -cf - "$name" | gzip -9n > "$OUT/$name.tar.gz"

# the .deb: the binary in /usr/bin (the unit finds it there), the unit, its system user
# (sysusers.d), a commented /etc/dalleserver/env kept across upgrades (a conffile); the data
# dir is the unit's StateDirectory. The binary carries its libraries: no Depends.
pkg="$WORK/deb"
install -D -m 0755 "$BINARY" "$pkg/usr/bin/dalleserver"
install -D -m 0644 "$DEPLOY/dalleserver.service" "$pkg/lib/systemd/system/dalleserver.service"
install -D -m 0644 "$DEPLOY/debian/sysusers.conf" "$pkg/usr/lib/sysusers.d/dalleserver.conf"
install -D -m 0600 "$DEPLOY/env.example" "$pkg/etc/dalleserver/env"
install -D -m 0644 "$REPO/README.md" "$pkg/usr/share/doc/dalleserver/README.md"
install -D -m 0644 "$REPO/docs/operations.md" "$pkg/usr/share/doc/dalleserver/operations.md"
mkdir -p "$pkg/DEBIAN"
for script in postinst prerm postrm; do
    install -m 0755 "$DEPLOY/debian/$script" "$pkg/DEBIAN/$script"
done
echo /etc/dalleserver/env > "$pkg/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@SIZE@/$size/" "$DEPLOY/debian/control" > "$pkg/DEBIAN/control"
find "$pkg" -exec touch -h -d "@$EPOCH" {} +
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$OUT/dalleserver_${VERSION}_amd64.deb" >/dev/null
echo "$OUT/$name.tar.gz"
echo "$OUT/dalleserver_${VERSION}_amd64.deb"
