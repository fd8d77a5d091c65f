# Shared by the recipes in examples/*/Makefile. A recipe sets FIELD, includes this file, sets its
# inputs and options, lists them in SETTINGS and its outputs in OUTPUTS, then includes settings.mk.
#
# - bash with -e -o pipefail, so a failing command anywhere in a pipe fails the step;
# - .DELETE_ON_ERROR, so a failed step never leaves a target that looks finished;
# - SL: the speechlang program (the repo's .venv by default, else `speechlang` from PATH);
# - EXP: the output folder, exp/$(FIELD) in the repo by default.
# Each recipe reads DATA: the small sample in tests/fixtures by default, or a folder laid out as
# the shared data folder (text/, eval/, parallel/, images/, speech/) for the full corpora, and
# then takes the larger settings of a full run.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.SUFFIXES:
MAKEFLAGS += --no-builtin-rules --no-print-directory
.DEFAULT_GOAL := all

EXAMPLES := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
ROOT := $(patsubst %/,%,$(dir $(EXAMPLES)))
FIXTURES := $(ROOT)/tests/fixtures
SL ?= $(if $(wildcard $(ROOT)/.venv/bin/speechlang),$(ROOT)/.venv/bin/speechlang,speechlang)
EXP ?= $(ROOT)/exp/$(FIELD)

# `make clean` removes the recipe's own outputs (OUTPUTS, names in EXP), nothing else that EXP holds.
.PHONY: all clean
clean:
	if [ -d $(EXP) ]; then cd $(EXP) && rm -rf $(sort $(OUTPUTS)) settings.txt; fi
