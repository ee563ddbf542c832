#!/usr/bin/env bash
# Installs everything needed to build and test Tern on Debian 12, as root.
# Idempotent and quiet: when every package is already there it only runs
# dpkg-query (and npm only if tests/interop/node_modules is missing), so it is
# cheap enough to call before every build.
set -euo pipefail

cd "$(dirname "$0")/.."

log() { printf 'install-deps: %s\n' "$*" >&2; }

# "build": only what building libtern and ternd needs (scripts/run.sh);
# no argument: everything the tests need too.
mode=${1:-test}

# libunistring-dev: libidn2's static link (pkg-config --static tern) names -lunistring.
pkgs=(build-essential cmake ninja-build pkg-config libevent-dev libssl-dev libc-ares-dev
      libcmocka-dev libcrypt-dev libargon2-dev libunbound-dev libsqlite3-dev libidn2-dev libpsl-dev
      libunistring-dev)
if [ "$mode" != build ]; then
	pkgs+=(clang libclang-rt-14-dev valgrind strace swaks curl openssl)
	# TLS and AUTH interop: swaks needs the Perl TLS and SASL modules; a
	# second TLS stack (GnuTLS) and GNU SASL come with gnutls-cli and msmtp.
	pkgs+=(libnet-ssleay-perl libio-socket-ssl-perl libauthen-sasl-perl libdigest-hmac-perl
	       gnutls-bin msmtp gsasl testssl.sh)
	# DNS interop: a dnslib server on loopback answers the test zones.
	pkgs+=(python3-dnslib python3-aiosmtpd)
	# PROXY protocol interop: HAProxy in front of ternd, run in the
	# foreground by tests/interop/test_proxy.py (its service never starts:
	# see policy-rc.d below).
	pkgs+=(haproxy)
	# A python3 or node already on PATH (pyenv, NodeSource) is used as it
	# is: Debian's nodejs/npm would conflict with NodeSource's node.
	command -v python3 >/dev/null 2>&1 || pkgs+=(python3)
	command -v node >/dev/null 2>&1 || pkgs+=(nodejs npm)
	# Postfix ships smtp-source (a load generator the interop tests use);
	# its service must not start, see below.
	[ -x /usr/sbin/smtp-source ] || pkgs+=(postfix)
	# Dovecot's LMTP server (ternd --lmtp-to) and, later, its IMAP: run
	# from a configuration in a temporary directory by the tests; its
	# service never starts (policy-rc.d below).
	pkgs+=(dovecot-core dovecot-lmtpd)
	# Queue retries, delay DSNs and expiry under a clock the tests set.
	pkgs+=(faketime)
	# Mail authentication oracles (issue 8): dkimpy (dkimverify, arcsign),
	# pyspf and its RFC 7208 test suite, Perl's Mail::DKIM and Mail::DMARC,
	# OpenDKIM's tools, authres to parse Authentication-Results, ldns to
	# sign test zones with DNSSEC.
	pkgs+=(python3-dkim python3-spf python3-dnspython python3-authres libmail-dkim-perl
	       libmail-dmarc-perl opendkim-tools ldnsutils)
	# DANE interop (tests/interop/test_dane.py): Knot DNS signs and serves the test zones.
	pkgs+=(knot)
fi

missing=()
for p in "${pkgs[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	[ "${status:0:2}" = "ii" ] || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		log "missing packages (run as root to install): ${missing[*]}"
		exit 1
	fi
	log "installing: ${missing[*]}"
	# Keep package scripts from starting services (Postfix would start a
	# daemon on port 25): invoke-rc.d obeys policy-rc.d exit code 101.
	own_policy=0
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		own_policy=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	# Postfix asks how it is used; "No configuration" leaves it inert.
	if printf '%s\n' "${missing[@]}" | grep -qx postfix; then
		echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	fi
	rc=0
	{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
		>/tmp/tern-install-deps.log 2>&1 || rc=$?
	[ $own_policy -eq 1 ] && rm -f /usr/sbin/policy-rc.d
	if [ $rc -ne 0 ]; then
		# smtp-source is optional: retry without postfix before giving up.
		if printf '%s\n' "${missing[@]}" | grep -qx postfix; then
			rest=()
			for p in "${missing[@]}"; do [ "$p" = postfix ] || rest+=("$p"); done
			log "postfix could not be installed (smtp-source tests will be skipped)"
			if [ ${#rest[@]} -gt 0 ]; then
				apt-get install -y -qq --no-install-recommends "${rest[@]}" \
					>>/tmp/tern-install-deps.log 2>&1 || rc=$?
			else
				rc=0
			fi
		fi
		if [ $rc -ne 0 ]; then
			log "apt-get failed, see /tmp/tern-install-deps.log"
			tail -20 /tmp/tern-install-deps.log >&2
			exit 1
		fi
	fi
fi

[ "$mode" = build ] && exit 0

# nodemailer and smtp-server for the interop tests, pinned by the committed
# package-lock.json.
if command -v npm >/dev/null 2>&1; then
	if [ ! -d tests/interop/node_modules/nodemailer ] || [ ! -d tests/interop/node_modules/smtp-server ] ||
	   [ ! -d tests/interop/node_modules/mailauth ]; then
		(cd tests/interop && npm ci --no-audit --no-fund --loglevel=error >/tmp/tern-npm.log 2>&1) || {
			log "npm ci failed, see /tmp/tern-npm.log"
			tail -20 /tmp/tern-npm.log >&2
			exit 1
		}
	fi
else
	log "npm not found: nodemailer tests will be skipped"
fi
