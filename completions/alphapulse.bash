# bash completion for alphapulse; generated from the CLI by scripts/gen_docs.py
_alphapulse() {
    local cur cmd opts i
    cur="${COMP_WORDS[COMP_CWORD]}"
    cmd=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            -*) ;;
            *) cmd="${COMP_WORDS[i]}"; break ;;
        esac
    done
    if [[ -z "$cmd" ]]; then
        COMPREPLY=($(compgen -W "bench collect compact local-exchange pin query replay shm-dump tail-stream --version --help" -- "$cur"))
        return
    fi
    case "$cmd" in
        bench) opts="--list --repeats -r --quick --json --baseline --max-regression --help" ;;
        collect) opts="--output -o --jsonl --channels --depth --duration -d --max-messages -n --quiet -q --url --protocol --metrics-port --watchdog --no-compression --redis --redis-maxlen --redis-books --shm --shm-interval --shm-mode --simulate --rate -r --drop-after --drop-at --stall-after --stall-at --stall-for --skip --corrupt-checksum --malformed-after --refuse --faults-on --help" ;;
        compact) opts="--level -l --threads -T --dry-run -n --quiet -q --no-wait --parquet --checkpoint-every --verify --recheck --keep-raw --stats --help" ;;
        local-exchange) opts="--host --port -p --rate -r --symbols -s --seed --duration -d --levels --trade-share --stats-file --compression --no-compression --subscribe-timeout --idle-timeout --drop-after --drop-at --stall-after --stall-at --stall-for --skip --corrupt-checksum --malformed-after --refuse --faults-on --quiet -q --protocol --help" ;;
        pin) opts="--pid -p --show --nice -n --realtime --help" ;;
        query) opts="--lake -l --raw --redis --redis-required --from --to --at --depth -d --venue -e --format -f --output -o --count -c --help" ;;
        replay) opts="--format -f --output -o --from --to --exchange -e --kind -k --symbol -s --depth -d --count -c --speed --follow -F --tail --shm --shm-interval --shm-mode --stats --redis --redis-maxlen --redis-books --serve --keep-serving --help" ;;
        shm-dump) opts="--symbol -s --exchange -e --follow -F --latest --depth -d --count -c --stats --format -f --help" ;;
        tail-stream) opts="--from --count -c --group -g --consumer --claim-idle --no-ack --fmt --json --table --batch --rescan --redis --help" ;;
        *) opts="" ;;
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}
complete -o filenames -F _alphapulse alphapulse
