# bash completion for alphapulse; generated from the CLI by scripts/gen_docs.py
# Enable: source this file from ~/.bashrc, or copy it to
# ~/.local/share/bash-completion/completions/alphapulse
_alphapulse() {
    local cur prev cmd ci opts takes words npos w i
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    cmd=""
    ci=0
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            -*) ;;
            *) cmd="${COMP_WORDS[i]}"; ci=$i; break ;;
        esac
    done
    if [[ -z "$cmd" ]]; then
        COMPREPLY=($(compgen -W "bench collect compact dashboard local-exchange pin query replay shm-dump tail-stream --version --help" -- "$cur"))
        return
    fi
    opts=""
    takes=" "
    case "$cmd" in
        bench) opts="--list --repeats -r --quick --json --baseline --max-regression --help"; takes=" --repeats -r --json --baseline --max-regression " ;;
        collect) opts="--output -o --jsonl --channels --depth --duration -d --max-messages -n --quiet -q --url --protocol --metrics-port --metrics-host --connect-timeout --watchdog --no-compression --redis --redis-maxlen --redis-books --shm --shm-interval --shm-mode --simulate --rate -r --drop-after --drop-at --stall-after --stall-at --stall-for --skip --corrupt-checksum --malformed-after --refuse --faults-on --help"; takes=" --output -o --channels --depth --duration -d --max-messages -n --url --protocol --metrics-port --metrics-host --connect-timeout --watchdog --redis --redis-maxlen --shm --shm-interval --shm-mode --rate -r --drop-after --drop-at --stall-after --stall-at --stall-for --skip --corrupt-checksum --malformed-after --refuse --faults-on " ;;
        compact) opts="--level -l --threads -T --dry-run -n --quiet -q --no-wait --parquet --checkpoint-every --verify --recheck --keep-raw --archive --archive-after --stats --help"; takes=" --level -l --threads -T --parquet --checkpoint-every --keep-raw --archive --archive-after " ;;
        dashboard) opts="--host --port -p --data --redis --shm --collector --help"; takes=" --host --port -p --data --redis --shm --collector " ;;
        local-exchange) opts="--host --port -p --rate -r --symbols -s --seed --duration -d --levels --trade-share --stats-file --compression --no-compression --subscribe-timeout --idle-timeout --drop-after --drop-at --stall-after --stall-at --stall-for --skip --corrupt-checksum --malformed-after --refuse --faults-on --quiet -q --protocol --help"; takes=" --host --port -p --rate -r --symbols -s --seed --duration -d --levels --trade-share --stats-file --subscribe-timeout --idle-timeout --drop-after --drop-at --stall-after --stall-at --stall-for --skip --corrupt-checksum --malformed-after --refuse --faults-on --protocol " ;;
        pin) opts="--pid -p --show --nice -n --realtime --verbose -v --help"; takes=" --pid -p --nice -n --realtime " ;;
        query) opts="--lake -l --raw --redis --redis-required --from --to --at --depth -d --venue -e --format -f --output -o --count -c --help"; takes=" --lake -l --raw --redis --from --to --at --depth -d --venue -e --format -f --output -o --count -c " ;;
        replay) opts="--format -f --output -o --from --to --exchange -e --kind -k --symbol -s --depth -d --count -c --speed --follow -F --tail --shm --shm-interval --shm-mode --stats --quiet -q --redis --redis-maxlen --redis-books --serve --keep-serving --help"; takes=" --format -f --output -o --from --to --exchange -e --kind -k --symbol -s --depth -d --count -c --speed --tail --shm --shm-interval --shm-mode --redis --redis-maxlen --serve " ;;
        shm-dump) opts="--symbol -s --exchange -e --follow -F --latest --depth -d --count -c --stats --format -f --help"; takes=" --symbol -s --exchange -e --depth -d --count -c --format -f " ;;
        tail-stream) opts="--from --count -c --group -g --consumer --claim-idle --no-ack --fmt --json --table --batch --rescan --redis --help"; takes=" --from --count -c --group -g --consumer --claim-idle --fmt --batch --rescan --redis " ;;
    esac
    # The value of the option before the cursor: its choices, else a path.
    words="-"
    case "$cmd $prev" in
        "collect --depth") words="10 25 100 500 1000" ;;
        "collect --protocol") words="exchange advanced v2 v1" ;;
        "query --venue"|"query -e") words="coinbase kraken" ;;
        "query --format"|"query -f") words="table jsonl csv parquet" ;;
        "replay --format"|"replay -f") words="jsonl wslog events books" ;;
        "replay --exchange"|"replay -e") words="coinbase kraken" ;;
        "replay --kind"|"replay -k") words="in out event" ;;
        "replay --tail") words="raise stop" ;;
        "shm-dump --exchange"|"shm-dump -e") words="coinbase kraken" ;;
        "shm-dump --format"|"shm-dump -f") words="auto jsonl ladder" ;;
    esac
    if [[ "$words" != "-" ]]; then
        COMPREPLY=($(compgen -W "$words" -- "$cur"))
        return
    fi
    if [[ "$takes" == *" $prev "* ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))
        return
    fi
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    npos=0
    for ((i = ci + 1; i < COMP_CWORD; i++)); do
        w="${COMP_WORDS[i]}"
        if [[ "$w" == -* ]]; then
            [[ "$takes" == *" $w "* ]] && ((i++))
            continue
        fi
        ((npos++))
    done
    case "$cmd $npos" in
        "bench "*) words="wslog-write wslog-read replay-merge replay-bulk replay-pacing parse peers book shm compact e2e serve redis redis-cluster startup query dashboard archive" ;;
        "bench "*) words="" ;;
        "collect 0") words="coinbase kraken" ;;
        "collect "*) words="" ;;
        "local-exchange 0") words="coinbase kraken" ;;
        "local-exchange "*) words="" ;;
        "query 0") words="trades book-updates book bars sql" ;;
        "query "*) words="" ;;
        "shm-dump "*) words="" ;;
        "tail-stream "*) words="" ;;
    esac
    if [[ "$words" != "-" ]]; then
        COMPREPLY=($(compgen -W "$words" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}
complete -o filenames -F _alphapulse alphapulse
