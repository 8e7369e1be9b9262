# Shared by the scripts of tasks/: finds the Python that has newsclean installed, the
# configuration and the log folder, the same way under cron's bare environment, systemd
# and a shell. Sourced, not run. Every failure here exits with a documented code:
#   9   not configured (no configuration file, no --pipeline-raw-dir), or LOG_DIR unwritable
#   12  no Python with newsclean installed where the scripts look
#
# One install step makes the scripts run as shipped: a virtual environment beside them,
#   python3 -m venv /opt/newsclean/.venv && /opt/newsclean/.venv/bin/pip install /opt/newsclean
# (NEWSCLEAN_PYTHON names another Python). Configuration, the first found:
#   NEWSCLEAN_CONFIG, LUIGI_CONFIG_PATH (Luigi's own variable), /etc/newsclean/luigi.cfg,
#   luigi.cfg in the working folder
#   (NEWSCLEAN_WORKDIR, default the project folder); Luigi flags in NEWSCLEAN_LUIGI_FLAGS.

project="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
workdir="${NEWSCLEAN_WORKDIR:-$project}"

newsclean_python() {
    local candidate
    for candidate in "${NEWSCLEAN_PYTHON:-}" "$project/.venv/bin/python" "$(command -v python3 || true)"; do
        [[ -n "$candidate" && -x "$candidate" ]] || continue
        # From / : the working folder may be a checkout, whose pipeline/ any Python finds.
        if (cd / && "$candidate" -c 'import importlib.util as u, sys
sys.exit(not all(u.find_spec(m) for m in ("luigi", "numba", "pipeline.tasks")))' 2>/dev/null); then
            echo "$candidate"
            return 0
        fi
    done
    echo "newsclean: error: no Python with newsclean installed (tried NEWSCLEAN_PYTHON, $project/.venv," \
         "python3 on PATH=$PATH): python3 -m venv $project/.venv && $project/.venv/bin/pip install $project" >&2
    return 1
}

newsclean_setup() {
    # Sets: python, flags (array), log_dir. Returns a documented exit code on failure.
    python="$(newsclean_python)" || return 12
    cd "$workdir" || { echo "newsclean: error: cannot enter NEWSCLEAN_WORKDIR=$workdir" >&2; return 9; }
    local config="${NEWSCLEAN_CONFIG:-${LUIGI_CONFIG_PATH:-}}"
    if [[ -z "$config" && -f /etc/newsclean/luigi.cfg ]]; then
        config=/etc/newsclean/luigi.cfg
    fi
    if [[ -n "$config" ]]; then
        [[ -f "$config" ]] || { echo "newsclean: error: configuration $config (NEWSCLEAN_CONFIG or LUIGI_CONFIG_PATH): no such file" >&2; return 9; }
        export LUIGI_CONFIG_PATH="$config"
    fi
    # shellcheck disable=SC2206  # flags are words, as on a command line
    flags=(${NEWSCLEAN_LUIGI_FLAGS:-})
    if [[ -z "$config" && ! -f "$workdir/luigi.cfg" && " ${flags[*]} " != *" --pipeline-raw-dir "* ]]; then
        echo "newsclean: error: not configured: write /etc/newsclean/luigi.cfg (or $workdir/luigi.cfg, or set" \
             "NEWSCLEAN_CONFIG) with [pipeline] raw_dir, out_dir and state_dir; see the README" >&2
        return 9
    fi
    if [[ " ${flags[*]} " != *" --scheduler-host "* && " ${flags[*]} " != *" --scheduler-url "* ]]; then
        flags+=(--local-scheduler)
    fi
    log_dir="${LOG_DIR:-$workdir/logs}"
    mkdir -p "$log_dir" && [[ -w "$log_dir" ]] || { echo "newsclean: error: cannot write LOG_DIR=$log_dir" >&2; return 9; }
    return 0
}
