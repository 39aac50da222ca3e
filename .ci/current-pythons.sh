#!/usr/bin/env bash
# current-pythons.sh: set up the current CPython and PyPy releases on this
# Debian 12 (glibc 2.36) machine, cache them, and print their venv pythons.
#
#   .ci/current-pythons.sh [--cache DIR] VERSION...
#
# VERSION is one of:
#   3.14, 3.15  CPython from Debian sid, run from a private sysroot
#   bullseye3.9 Debian 11's CPython 3.9.2 on its glibc 2.31, from a private
#               sysroot: the oldest C library pysyscall supports, as on
#               Ubuntu 20.04 and RHEL 8 (pthread_sigmask in libpthread, no
#               _Fork, close_range or addclosefrom_np)
#   pypy3.11    PyPy 3.11 (sid's pypy3 8.0.x), run from a private sysroot
#   pypy3.9     this Debian's own pypy3 (7.3.11), installed with the system apt-get
#
# For each VERSION it builds, unless already cached and working, DIR/VERSION/root
# (the sysroot, or for pypy3.9 just a pip wheel) and DIR/VERSION/venv (a venv
# with pip), then prints "VERSION DIR/VERSION/venv/bin/python" on stdout.
# Progress and diagnostics go to stderr; each build's tool output goes to
# DIR/logs/VERSION.log. DIR defaults to $PYSYSCALL_PYTHONS_CACHE, else
# /var/cache/pysyscall-pythons. A cached version is only verified (its python
# runs `import sys, ctypes; print(sys.version)`), so a second run takes seconds.
# A version that cannot be set up is reported as
# "current-pythons: cannot set up VERSION: REASON" and makes the exit status 1,
# after the other versions have been tried. There are no fallbacks.
#
# The recipe is the measured one in shared/design/current-pythons.md: apt with a
# private sources list (Debian sid, or bullseye) and private state/cache dirs,
# `apt-get download` of the packages listed there, `dpkg-deb -x` into one root,
# patchelf of the interpreter's ELF interpreter and rpath to the root's glibc,
# then `-m venv --without-pip` and pip from the root's pip wheel (bullseye's
# pip 20.3 then upgrades itself from PyPI). The private apt state's status file
# is /dev/null, so apt picks each suite's own versions, not the machine's.
# The system's apt configuration and state are never changed: the sid apt runs
# with -o Dir::... options pointing into the cache, plus a private config file
# that only drops the machine's APT::Update hooks (they would otherwise refresh
# system caches such as appstream's on every private `apt-get update`).
# The system apt-get is used only to install patchelf and pypy3 when missing.

set -euo pipefail

# The sid and bullseye archive is the machine's own Debian archive (its first
# URI), with the suite changed: no mirror is named here.
debian_archive() {
  local uri
  uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  if [[ -z "$uri" ]]; then
    uri=$(awk '$1 == "deb" && $0 !~ /security/ { print ($2 ~ /^\[/) ? $3 : $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
  fi
  [[ -n "$uri" ]] || { echo "current-pythons: no Debian archive configured in /etc/apt" >&2; exit 1; }
  echo "$uri"
}
ARCHIVE=$(debian_archive)
readonly ARCHIVE
readonly MULTIARCH=x86_64-linux-gnu
readonly LDSO=ld-linux-x86-64.so.2
# Libraries and data every sid sysroot gets (from the design note).
readonly SID_COMMON=(libc6 libexpat1 libffi8 libbz2-1.0 liblzma5 libzstd1 zlib1g
  libssl3t64 libsqlite3-0 libuuid1 libncursesw6 libtinfo6 libreadline8t64
  libgcc-s1 python3-pip-whl media-types tzdata)
# Debian 11's CPython 3.9 and what it links or loads (its own python3.9 is
# 3.9.2; the lib-dynload modules need libffi7, libssl1.1, the krb5 set...).
readonly BULLSEYE_PACKAGES=(python3.9 python3.9-minimal libpython3.9-minimal
  libpython3.9-stdlib python3.9-venv python3-distutils python3-lib2to3
  python-pip-whl libc6 libffi7 libssl1.1 libexpat1 zlib1g libbz2-1.0 liblzma5
  libsqlite3-0 libuuid1 libncursesw6 libtinfo6 libreadline8 libgcc-s1 libcrypt1
  libnsl2 libtirpc3 libgssapi-krb5-2 libkrb5-3 libk5crypto3 libcom-err2
  libkrb5support0 libkeyutils1 libdb5.3 libmpdec3 media-types mime-support)
readonly VERIFY_CODE='import sys, ctypes; print(sys.version)'

CACHE=
LOG=/dev/null

usage() {
  echo "usage: $0 [--cache DIR] VERSION...  (VERSION: 3.14 3.15 bullseye3.9 pypy3.11 pypy3.9)" >&2
  exit 2
}

note() { echo "current-pythons: $*" >&2; }

# fail REASON: report this version as failed and leave its build subshell.
fail() {
  note "cannot set up $VERSION: $*"
  exit 1
}

# logged CMD...: run CMD with its output appended to this version's log.
logged() { "$@" >>"$LOG" 2>&1; }

# apt_errors: apt's error lines from the log, on one line.
apt_errors() {
  grep -E '^(E|Err):' "$LOG" | tail -n 3 | tr '\n' ' ' || true
}

# log_tail: the end of the log, for a failure whose log has no apt error line.
log_tail() { tail -n 5 "$LOG" | tr '\n' ' '; }

# --- per-version facts -------------------------------------------------------

is_known() { [[ $1 =~ ^(3\.14|3\.15|bullseye3\.9|pypy3\.11|pypy3\.9)$ ]]; }

# suite VERSION: the Debian suite its sysroot comes from (none: pypy3.9).
suite() {
  case $1 in
    pypy3.9) ;;
    bullseye3.9) echo bullseye ;;
    *) echo sid ;;
  esac
}

# python_version VERSION: the X.Y that the interpreter must report.
python_version() {
  case $1 in
    pypy3.11) echo 3.11 ;;
    pypy3.9 | bullseye3.9) echo 3.9 ;;
    *) echo "$1" ;;
  esac
}

# interpreter VERSION ROOT: the interpreter's path.
interpreter() {
  case $1 in
    pypy3.11) echo "$2/usr/bin/pypy3.11" ;;
    pypy3.9) echo /usr/bin/pypy3.9 ;;
    bullseye3.9) echo "$2/usr/bin/python3.9" ;;
    *) echo "$2/usr/bin/python$1" ;;
  esac
}

# suite_packages VERSION: the packages its sysroot is made of.
suite_packages() {
  case $1 in
    bullseye3.9) echo "${BULLSEYE_PACKAGES[@]}" ;;
    pypy3.11) echo pypy3 pypy3-lib libgdbm6t64 "${SID_COMMON[@]}" ;;
    *) echo "python$1" "python$1-minimal" "libpython$1-minimal" \
      "libpython$1-stdlib" "libpython$1-testsuite" "python$1-venv" "${SID_COMMON[@]}" ;;
  esac
}

# --- the cache ---------------------------------------------------------------

venv_python() { echo "$CACHE/$1/venv/bin/python"; }

# verify VERSION: the venv's python runs, has ctypes, and is the right version.
verify() {
  local out want
  want=$(python_version "$1")
  out=$("$(venv_python "$1")" -c "$VERIFY_CODE" 2>&1) || {
    echo "$out" | tail -n 3 >&2
    return 1
  }
  [[ $out == "$want".* ]] || { note "$1 reports version $out, want $want.x"; return 1; }
  [[ $1 != pypy* || $out == *PyPy* ]] || { note "$1 is not PyPy: $out"; return 1; }
  note "$1: ${out//$'\n'/ }"
}

# is_cached VERSION: built completely before, and still working.
is_cached() {
  [[ -e $CACHE/$1/.complete ]] || return 1
  verify "$1" && return 0
  note "$1: the cached copy does not work (see above); rebuilding it"
  return 1
}

# --- apt ---------------------------------------------------------------------

# suite_apt SUITE ARGS...: apt-get on SUITE's private sources, state and cache.
suite_apt() {
  local d=$CACHE/apt-$1
  shift
  apt-get -c "$d/apt.conf" \
    -o Dir::Etc::sourcelist="$d/sources.list" -o Dir::Etc::sourceparts=- \
    -o Dir::State::Lists="$d/lists" -o Dir::Cache="$d/cache" \
    -o Dir::State::status=/dev/null -o APT::Sandbox::User=root "$@"
}

# suite_update SUITE: write the private apt files and fetch SUITE's package lists.
suite_update() {
  local d=$CACHE/apt-$1
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $ARCHIVE $1 main" \
    >"$d/sources.list"
  printf '#clear APT::Update::Pre-Invoke;\n#clear APT::Update::Post-Invoke;\n#clear APT::Update::Post-Invoke-Success;\n' >"$d/apt.conf"
  note "updating the private Debian $1 package lists"
  suite_apt "$1" -q update >>"$CACHE/logs/apt-$1-update.log" 2>&1
}

# system_install PACKAGE: install PACKAGE with the system apt-get if missing.
system_install() {
  local log=$CACHE/logs/system-apt.log status policy
  status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || true
  [[ $status == *' ok installed' ]] && return 0
  policy=$(apt-cache policy "$1" 2>/dev/null) || true
  if [[ ! $policy =~ Candidate:\ [^\(] ]]; then
    note "apt-get update (system) to find $1"
    apt-get -q update >>"$log" 2>&1 || return 1
  fi
  note "installing $1 with the system apt-get (log: $log)"
  DEBIAN_FRONTEND=noninteractive apt-get -q install -y --no-install-recommends "$1" >>"$log" 2>&1
}

# prepare_suite SUITE: patchelf and fresh SUITE lists, once per run and
# suite; sets SUITE_ERROR[SUITE] ("" when ready).
declare -A SUITE_ERROR=()
prepare_suite() {
  [[ -z ${SUITE_ERROR[$1]+set} ]] || return 0
  SUITE_ERROR[$1]=
  if ! system_install patchelf; then
    SUITE_ERROR[$1]="could not install patchelf with the system apt-get"
  elif ! suite_update "$1"; then
    SUITE_ERROR[$1]="apt-get update of Debian $1 failed: $(grep -E '^(E|Err|W):' \
      "$CACHE/logs/apt-$1-update.log" | tail -n 3 | tr '\n' ' ')"
  fi
}

# --- building ----------------------------------------------------------------

# unpack_debs DIR ROOT: dpkg-deb -x every .deb in DIR into ROOT.
unpack_debs() {
  local deb
  for deb in "$1"/*.deb; do
    logged dpkg-deb -x "$deb" "$2" || fail "dpkg-deb -x $(basename "$deb") failed"
  done
}

# build_suite_root ROOT: download VERSION's packages, unpack, patch the interpreter.
# Bullseye's libc6 is in /lib (no merged /usr), sid's in /usr/lib: the
# interpreter gets the root's ld.so from whichever has it, and both
# library directories in its rpath (which also serves dlopen: ctypes, the
# extension modules).
build_suite_root() {
  local root=$1 suite dl py pkgs ldso
  suite=$(suite "$VERSION")
  read -ra pkgs <<<"$(suite_packages "$VERSION")"
  dl=$root.download
  mkdir -p "$dl"
  note "$VERSION: downloading ${#pkgs[@]} packages from Debian $suite"
  (cd "$dl" && logged suite_apt "$suite" download "${pkgs[@]}") ||
    fail "apt-get download from Debian $suite failed: $(apt_errors)"
  logged ls -l "$dl"
  unpack_debs "$dl" "$root"
  rm -rf "$dl"
  py=$(interpreter "$VERSION" "$root")
  [[ -x $py ]] || fail "$suite's packages no longer provide ${py#"$root"/} ($(cd "$root/usr/bin" && echo *))"
  ldso=$root/usr/lib/$MULTIARCH/$LDSO
  [[ -e $ldso ]] || ldso=$root/lib/$MULTIARCH/$LDSO
  [[ -e $ldso ]] || fail "$suite's libc6 has no $LDSO"
  logged patchelf --set-interpreter "$ldso" --force-rpath \
    --set-rpath "$root/lib/$MULTIARCH:$root/usr/lib/$MULTIARCH" "$py" || fail "patchelf on $py failed"
}

# build_system_root ROOT: install this Debian's pypy3 and fetch its pip wheel.
# sid's pip (26.x) needs Python >= 3.10, so the wheel is this Debian's
# python3-pip-whl, downloaded (not installed) with the system's package lists.
build_system_root() {
  local root=$1 dl
  system_install pypy3 ||
    fail "apt-get install pypy3 failed: $(grep -E '^E:' "$CACHE/logs/system-apt.log" | tail -n 2 | tr '\n' ' ')"
  dl=$root.download
  mkdir -p "$dl"
  note "$VERSION: downloading this Debian's python3-pip-whl"
  (cd "$dl" && logged apt-get -o Dir::Cache="$CACHE/apt-system-cache" \
    -o APT::Sandbox::User=root download python3-pip-whl) ||
    fail "apt-get download python3-pip-whl failed: $(apt_errors)"
  unpack_debs "$dl" "$root"
  rm -rf "$dl"
}

# make_venv PYTHON VENV ROOT: a venv without pip, then pip from ROOT's wheel.
make_venv() {
  local py=$1 venv=$2 wheel
  logged "$py" -m venv --without-pip "$venv" || fail "$py -m venv failed: $(log_tail)"
  wheel=$(echo "$3"/usr/share/python-wheels/pip-*.whl)
  [[ -f $wheel ]] || fail "no pip wheel under $3/usr/share/python-wheels"
  logged "$venv/bin/python" "$wheel/pip" install --no-index "$wheel" ||
    fail "installing $(basename "$wheel") failed: $(log_tail)"
  # Bullseye's pip is 20.3.4 (2020): the other versions' pips are current.
  if [[ $VERSION == bullseye* ]]; then
    logged "$venv/bin/python" -m pip install -q --disable-pip-version-check -U pip ||
      fail "pip install -U pip failed: $(log_tail)"
  fi
}

# build VERSION: (re)build DIR/VERSION from scratch. Runs in its own subshell.
build() {
  VERSION=$1
  local dir=$CACHE/$1
  LOG=$CACHE/logs/$1.log
  : >"$LOG"
  note "$1: building in $dir (log: $LOG)"
  rm -rf "$dir"
  mkdir -p "$dir/root"
  if [[ -n $(suite "$1") ]]; then
    build_suite_root "$dir/root"
  else
    build_system_root "$dir/root"
  fi
  make_venv "$(interpreter "$1" "$dir/root")" "$dir/venv" "$dir/root"
  verify "$1" || fail "the new venv's python does not work (see above)"
  touch "$dir/.complete"
}

# --- main --------------------------------------------------------------------

parse_args() {
  CACHE=${PYSYSCALL_PYTHONS_CACHE:-/var/cache/pysyscall-pythons}
  VERSIONS=()
  while (($#)); do
    case $1 in
      --cache) (($# >= 2)) || usage; CACHE=$2; shift 2 ;;
      --cache=*) CACHE=${1#--cache=}; shift ;;
      -h | --help) usage ;;
      *) is_known "$1" || { note "unknown version '$1'"; usage; }; VERSIONS+=("$1"); shift ;;
    esac
  done
  ((${#VERSIONS[@]})) || usage
}

main() {
  parse_args "$@"
  [[ $(dpkg --print-architecture) == amd64 ]] || { note "only amd64 is supported"; exit 1; }
  mkdir -p "$CACHE/logs"
  CACHE=$(cd "$CACHE" && pwd) # absolute: the sysroot paths are baked into ELF files
  exec 9>"$CACHE/.lock"
  flock 9 # one run at a time per cache
  unset PYTHONHOME PYTHONPATH # for the builds and the checks

  local v suite status failed=0
  for v in "${VERSIONS[@]}"; do
    if is_cached "$v"; then
      echo "$v $(venv_python "$v")"
      continue
    fi
    suite=$(suite "$v")
    if [[ -n $suite ]]; then
      prepare_suite "$suite"
      if [[ -n ${SUITE_ERROR[$suite]} ]]; then
        note "cannot set up $v: ${SUITE_ERROR[$suite]}"
        failed=1
        continue
      fi
    fi
    # A subshell per version, with errexit live inside it (it would be off in
    # an `if`/`||` context), so that one failure does not stop the others.
    set +e
    (
      set -eE
      trap 'note "cannot set up $v: command failed (line $LINENO): $BASH_COMMAND"' ERR
      build "$v"
    ) >&2
    status=$?
    set -e
    if ((status == 0)); then
      echo "$v $(venv_python "$v")"
    else
      failed=1
    fi
  done
  exit "$failed"
}

main "$@"
