# Included by each recipe after its inputs and options (the variables named in SETTINGS).
#
# $(SETTINGS_FILE) holds the values of the last run and is rewritten, while the Makefile is read,
# only when one of them changes (so also under `make -q` and `make -n`). The first steps depend
# on it: a run with other data or options redoes the work, an unchanged run is a no-op.
# INPUTS: files that must exist (a clear message instead of "No rule to make target").

SETTINGS_FILE := $(EXP)/settings.txt
$(foreach f,$(INPUTS),$(if $(wildcard $(f)),,$(error $(FIELD): input $(f) not found; set DATA (or the variable naming the file))))

define nl


endef
_settings_text := $(subst $(nl) ,$(nl),$(foreach v,$(sort $(SETTINGS)),$(v)=$($(v))$(nl)))
ifneq ($(MAKECMDGOALS),clean)
ifneq ($(file <$(SETTINGS_FILE))$(nl),$(_settings_text))
$(shell mkdir -p $(EXP))
$(file >$(SETTINGS_FILE),$(_settings_text))
endif
endif
