#!/usr/bin/env bash
# Ensures a PgBouncer >= 1.21 binary exists and prints its path on stdout.
#
# PgBouncer keeps protocol-level named prepared statements across transaction
# pooling only from 1.21 on (`max_prepared_statements`); sqlx, under sea-orm,
# prepares a named statement for every query, so Debian bookworm's 1.18 is of
# no use behind TiketHet. This builds Debian trixie's source package instead
# (1.24.1 with Debian's security patches), from deb.debian.org only:
#
#   trixie InRelease (checked with gpgv against Debian's archive keyring)
#   -> main/source/Sources.xz (sha256 from the signed InRelease)
#   -> the pgbouncer stanza: version, .dsc, orig and debian tarballs with sha256
#   -> the .dsc's own Checksums-Sha256 must agree
#   -> ./configure --prefix=... && make && make install
#
# into $PGBOUNCER_CACHE (default ${CARGO_TARGET_DIR:-/var/cache/tikethet-target}/pgbouncer).
# A binary already built there is reused without touching the network.
#
# Environment:
#   PGBOUNCER_CACHE    cache folder (see above)
#   PGBOUNCER_REFRESH  1: look at the archive again and build its current
#                      revision if it is newer than the one in the cache
#   PGBOUNCER_SUITE    Debian suite to take the source from (default trixie)
#   DEBIAN_MIRROR      default http://deb.debian.org/debian (integrity comes
#                      from the signature chain above, not from the transport)
#   PGBOUNCER_JOBS     make -j (default: number of CPUs)
#
# Quiet on success; on failure it says what failed (and the tail of the build
# log) on stderr and exits non-zero. Safe to run concurrently (flock).
set -euo pipefail

MIN_VERSION=1.21
SUITE=${PGBOUNCER_SUITE:-trixie}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=${PGBOUNCER_CACHE:-${CARGO_TARGET_DIR:-/var/cache/tikethet-target}/pgbouncer}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
JOBS=${PGBOUNCER_JOBS:-$(nproc 2>/dev/null || echo 2)}

die() { echo "pgbouncer.sh: $*" >&2; exit 1; }

# version_ok BINARY: true when BINARY runs and reports >= MIN_VERSION.
version_of() { "$1" --version 2>/dev/null | sed -n 's/^[Pp]g[Bb]ouncer \([0-9][0-9.]*\).*/\1/p' | head -n1; }
version_ok() {
    local v
    [[ -x $1 ]] || return 1
    v=$(version_of "$1")
    [[ -n $v ]] && dpkg --compare-versions "$v" ge "$MIN_VERSION"
}

current="$CACHE/current/bin/pgbouncer"
if [[ ${PGBOUNCER_REFRESH:-0} != 1 ]] && version_ok "$current"; then
    readlink -f "$current"
    exit 0
fi

mkdir -p "$CACHE" || die "cannot create the cache folder $CACHE"
exec 9>"$CACHE/.lock"
flock 9 || die "cannot lock $CACHE/.lock"
# Another run may have built it while we waited for the lock.
if [[ ${PGBOUNCER_REFRESH:-0} != 1 ]] && version_ok "$current"; then
    readlink -f "$current"
    exit 0
fi

# --- tools and build dependencies ------------------------------------------
need_pkgs=()
for tool in curl:curl gpgv:gpgv xz:xz-utils patch:patch make:make cc:gcc pkg-config:pkg-config; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || need_pkgs+=("${tool#*:}")
done
[[ -r $KEYRING ]] || need_pkgs+=(debian-archive-keyring)
if command -v pkg-config >/dev/null 2>&1; then
    pkg-config --exists libevent || need_pkgs+=(libevent-dev)
    pkg-config --exists openssl || need_pkgs+=(libssl-dev)
else
    need_pkgs+=(libevent-dev libssl-dev)
fi
if ((${#need_pkgs[@]})); then
    [[ $(id -u) == 0 ]] || die "missing packages: ${need_pkgs[*]} (install them: apt-get install ${need_pkgs[*]})"
    export DEBIAN_FRONTEND=noninteractive
    apt_opts=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=300)
    if ! apt-get install "${apt_opts[@]}" "${need_pkgs[@]}" >"$CACHE/apt.log" 2>&1; then
        apt-get update -q >>"$CACHE/apt.log" 2>&1 || true
        apt-get install "${apt_opts[@]}" "${need_pkgs[@]}" >>"$CACHE/apt.log" 2>&1 \
            || { tail -n 20 "$CACHE/apt.log" >&2; die "apt-get install ${need_pkgs[*]} failed (log: $CACHE/apt.log)"; }
    fi
fi

# --- find the source package in the signed index ---------------------------
dl="$CACHE/download"
mkdir -p "$dl"
fetch() { # URL FILE
    curl -fsSL --retry 3 --connect-timeout 20 -o "$2.part" "$1" || { rm -f "$2.part"; die "download failed: $1"; }
    mv -f "$2.part" "$2"
}
sha256_is() { # FILE SHA256
    [[ $(sha256sum "$1" | cut -d' ' -f1) == "$2" ]]
}

fetch "$MIRROR/dists/$SUITE/InRelease" "$dl/InRelease"
gpgv --keyring "$KEYRING" --output "$dl/Release.verified" "$dl/InRelease" >"$dl/gpgv.log" 2>&1 \
    || { cat "$dl/gpgv.log" >&2; die "the signature of $MIRROR/dists/$SUITE/InRelease does not verify against $KEYRING"; }

# Only the verified text is read from here on.
read -r sources_sha sources_size < <(awk '
    /^SHA256:/ { in_sha = 1; next }
    /^[^ ]/    { in_sha = 0 }
    in_sha && $3 == "main/source/Sources.xz" { print $1, $2; exit }' "$dl/Release.verified") \
    || die "main/source/Sources.xz is not listed in the signed $SUITE Release"
if [[ ! -f $dl/Sources.xz ]] || ! sha256_is "$dl/Sources.xz" "$sources_sha"; then
    fetch "$MIRROR/dists/$SUITE/main/source/Sources.xz" "$dl/Sources.xz"
fi
sha256_is "$dl/Sources.xz" "$sources_sha" \
    || die "Sources.xz of $SUITE does not match the sha256 in the signed Release"
[[ $(stat -c %s "$dl/Sources.xz") == "$sources_size" ]] || die "Sources.xz of $SUITE has the wrong size"

# The pgbouncer stanza(s); take the highest version if there are several.
xz -dc "$dl/Sources.xz" | awk 'BEGIN { RS = ""; ORS = "\n\n" } /(^|\n)Package: pgbouncer(\n|$)/' >"$dl/pgbouncer.stanzas"
[[ -s $dl/pgbouncer.stanzas ]] || die "no pgbouncer source package in $SUITE"
deb_version=""
while read -r v; do
    if [[ -z $deb_version ]] || dpkg --compare-versions "$v" gt "$deb_version"; then deb_version=$v; fi
done < <(sed -n 's/^Version: //p' "$dl/pgbouncer.stanzas")
awk -v want="$deb_version" 'BEGIN { RS = ""; ORS = "\n\n" } index($0, "\nVersion: " want "\n")' "$dl/pgbouncer.stanzas" >"$dl/pgbouncer.stanza"
directory=$(sed -n 's/^Directory: //p' "$dl/pgbouncer.stanza" | head -n1)
upstream=${deb_version#*:}
upstream=${upstream%-*}
dpkg --compare-versions "$upstream" ge "$MIN_VERSION" \
    || die "$SUITE has pgbouncer $deb_version, older than $MIN_VERSION"

# name -> sha256, from the stanza's Checksums-Sha256
checksums() { # FILE -> "sha256 name" lines of its Checksums-Sha256 field
    awk '/^Checksums-Sha256:/ { on = 1; next } /^[^ ]/ { on = 0 } on && NF == 3 { print $1, $3 }' "$1"
}
declare -A want_sha=()
while read -r sha name; do want_sha[$name]=$sha; done < <(checksums "$dl/pgbouncer.stanza")

dsc="" orig="" debtar=""
for name in "${!want_sha[@]}"; do
    case $name in
        *.dsc) dsc=$name ;;
        *.orig.tar.*) [[ $name == *.asc ]] || orig=$name ;;
        *.debian.tar.*) debtar=$name ;;
    esac
done
[[ -n $dsc && -n $orig ]] || die "the $SUITE index lists no .dsc or orig tarball for pgbouncer $deb_version"

for name in "$dsc" "$orig" ${debtar:+"$debtar"}; do
    if [[ ! -f $dl/$name ]] || ! sha256_is "$dl/$name" "${want_sha[$name]}"; then
        fetch "$MIRROR/$directory/$name" "$dl/$name"
    fi
    sha256_is "$dl/$name" "${want_sha[$name]}" \
        || die "$name does not match the sha256 in the signed $SUITE Sources index"
done
# The .dsc (itself verified above) must list the same tarballs.
while read -r sha name; do
    [[ ${want_sha[$name]:-} == "$sha" ]] || die "$dsc and the Sources index disagree on $name"
done < <(checksums "$dl/$dsc")
grep -q " $orig\$" <(checksums "$dl/$dsc") || die "$dsc does not list $orig"

# --- build -------------------------------------------------------------------
prefix="$CACHE/install/$deb_version"
if version_ok "$prefix/bin/pgbouncer"; then
    ln -sfn "install/$deb_version" "$CACHE/current.tmp" && mv -Tf "$CACHE/current.tmp" "$CACHE/current"
    readlink -f "$current"
    exit 0
fi

build="$CACHE/build"
log="$CACHE/build.log"
rm -rf "$build"
mkdir -p "$build"
: >"$log"
fail() { tail -n 30 "$log" >&2; die "$* (full log: $log)"; }

tar -xf "$dl/$orig" -C "$build" || die "cannot unpack $orig"
srcdir=$(find "$build" -mindepth 1 -maxdepth 1 -type d | head -n1)
[[ -x $srcdir/configure ]] || die "$orig has no configure script"
# Debian's patches (security fixes), except its packaging-only config paths.
if [[ -n $debtar ]]; then
    tar -xf "$dl/$debtar" -C "$srcdir" || die "cannot unpack $debtar"
    if [[ -f $srcdir/debian/patches/series ]]; then
        while read -r p _; do
            [[ -z $p || $p == \#* || $p == debian-config ]] && continue
            echo "applying debian/patches/$p" >>"$log"
            patch -d "$srcdir" -p1 --batch --forward <"$srcdir/debian/patches/$p" >>"$log" 2>&1 \
                || fail "Debian's patch $p does not apply"
        done <"$srcdir/debian/patches/series"
    fi
fi

(
    cd "$srcdir"
    # c-ares, PAM and systemd are optional: libevent's resolver is enough for
    # a loopback bouncer. The man pages ship prebuilt (no pandoc needed).
    nice -n 10 ./configure --prefix="$prefix" --without-cares --without-pam --without-systemd
) >>"$log" 2>&1 || fail "configure failed"
nice -n 10 make -C "$srcdir" -j"$JOBS" >>"$log" 2>&1 || fail "make failed"
rm -rf "$prefix"
make -C "$srcdir" install >>"$log" 2>&1 || fail "make install failed"
version_ok "$prefix/bin/pgbouncer" \
    || fail "the built $prefix/bin/pgbouncer does not report a version >= $MIN_VERSION"
echo "built pgbouncer $deb_version from $orig (sha256 ${want_sha[$orig]})" >"$prefix/SOURCE"
rm -rf "$build"

ln -sfn "install/$deb_version" "$CACHE/current.tmp" && mv -Tf "$CACHE/current.tmp" "$CACHE/current"
readlink -f "$current"
