# install.mk: `make install` / `make uninstall`, included by the Makefile.
# Installs the daemon, its systemd unit, sysusers/tmpfiles snippets, the
# default configuration (never over an existing one) and the man page.
#   make install                         # into /usr/local (binary, man page) and /
#   make install PREFIX=/usr DESTDIR=/tmp/pkg
# This file defines no default goal: `make` alone still runs the Makefile's.

_install_mk_default_goal := $(.DEFAULT_GOAL)

BUILD          ?= build
PREFIX         ?= /usr/local
DESTDIR        ?=
SBINDIR        ?= $(PREFIX)/sbin
MANDIR         ?= $(PREFIX)/share/man
SYSCONFDIR     ?= /etc
UNITDIR        ?= /lib/systemd/system
SYSUSERSDIR    ?= /usr/lib/sysusers.d
TMPFILESDIR    ?= /usr/lib/tmpfiles.d

.PHONY: install uninstall

install: build
	install -D -m 0755 $(BUILD)/daemon/iotwall $(DESTDIR)$(SBINDIR)/iotwall
	install -d -m 0755 $(DESTDIR)$(UNITDIR)
	sed 's|@SBINDIR@|$(SBINDIR)|g' systemd/iotwall.service > $(DESTDIR)$(UNITDIR)/iotwall.service.tmp
	chmod 0644 $(DESTDIR)$(UNITDIR)/iotwall.service.tmp
	mv -f $(DESTDIR)$(UNITDIR)/iotwall.service.tmp $(DESTDIR)$(UNITDIR)/iotwall.service
	install -D -m 0644 systemd/iotwall.sysusers $(DESTDIR)$(SYSUSERSDIR)/iotwall.conf
	install -D -m 0644 systemd/iotwall.tmpfiles $(DESTDIR)$(TMPFILESDIR)/iotwall.conf
	install -D -m 0644 docs/iotwall.8 $(DESTDIR)$(MANDIR)/man8/iotwall.8
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/iotwall
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/iotwall/iotwall.yaml ]; then \
	  install -m 0644 systemd/iotwall.yaml $(DESTDIR)$(SYSCONFDIR)/iotwall/iotwall.yaml.default; \
	  echo "kept $(DESTDIR)$(SYSCONFDIR)/iotwall/iotwall.yaml; the shipped default is iotwall.yaml.default"; \
	else \
	  install -m 0644 systemd/iotwall.yaml $(DESTDIR)$(SYSCONFDIR)/iotwall/iotwall.yaml; \
	  echo "installed the default $(DESTDIR)$(SYSCONFDIR)/iotwall/iotwall.yaml"; \
	fi
	@# Installing into the running system: create the group and directories now.
	@if [ -z "$(DESTDIR)" ]; then \
	  command -v systemd-sysusers >/dev/null && systemd-sysusers $(SYSUSERSDIR)/iotwall.conf || true; \
	  command -v systemd-tmpfiles >/dev/null && systemd-tmpfiles --create $(TMPFILESDIR)/iotwall.conf || true; \
	  if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi; \
	  echo "next: edit $(SYSCONFDIR)/iotwall/iotwall.yaml, iotwall check-config it, systemctl enable --now iotwall"; \
	fi

# Keeps the configuration (unless it is the unchanged default) and the state.
uninstall:
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl disable --now iotwall 2>/dev/null || true; fi
	rm -f $(DESTDIR)$(SBINDIR)/iotwall $(DESTDIR)$(UNITDIR)/iotwall.service \
	  $(DESTDIR)$(SYSUSERSDIR)/iotwall.conf $(DESTDIR)$(TMPFILESDIR)/iotwall.conf \
	  $(DESTDIR)$(MANDIR)/man8/iotwall.8 $(DESTDIR)$(SYSCONFDIR)/iotwall/iotwall.yaml.default
	@if cmp -s systemd/iotwall.yaml $(DESTDIR)$(SYSCONFDIR)/iotwall/iotwall.yaml; then \
	  rm -f $(DESTDIR)$(SYSCONFDIR)/iotwall/iotwall.yaml; \
	  rmdir $(DESTDIR)$(SYSCONFDIR)/iotwall 2>/dev/null || true; \
	elif [ -e $(DESTDIR)$(SYSCONFDIR)/iotwall/iotwall.yaml ]; then \
	  echo "kept $(DESTDIR)$(SYSCONFDIR)/iotwall/iotwall.yaml (changed); the state in /var/lib/iotwall is kept too"; \
	fi
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi

.DEFAULT_GOAL := $(_install_mk_default_goal)
