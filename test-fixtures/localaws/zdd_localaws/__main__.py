"""`python -m zdd_localaws --port 0 --time-scale 1.0`

Prints exactly one line, `ZDD_LOCALAWS_READY http://127.0.0.1:PORT`, on stdout once the server
accepts connections, then serves until stdin reaches EOF (so a parent test process that dies,
however it dies, never leaks the server), SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from . import check_moto_version


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m zdd_localaws", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="multiplies every health-model duration; 0.1 makes 10 s last 1 s (default 1.0)")
    parser.add_argument("--ignore-stdin", action="store_true",
                        help="do not exit on stdin EOF (for running it by hand in the background)")
    parser.add_argument("--strict-asg-delete", action="store_true",
                        default=os.environ.get("ZDD_LOCALAWS_STRICT_ASG_DELETE") == "1",
                        help="a DeleteAutoScalingGroup without ForceDelete is always refused (ResourceInUse) while the "
                             "group lists instances, as on AWS; strict: also while instances it scaled in still drain "
                             "(AWS lists them as Terminating, moto drops them) (also on with ZDD_LOCALAWS_STRICT_ASG_DELETE=1)")
    parser.add_argument("--verbose", action="store_true", help="log every request on stderr")
    args = parser.parse_args(argv)
    if not args.time_scale > 0:
        parser.error("--time-scale must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    check_moto_version()

    from .clock import MonotonicClock
    from .model import HealthModel
    from .patches import install
    from .patches_cloudwatch import AlarmHolds, MotoWorld, wall_ms
    from .patches_cloudwatch import install as install_cloudwatch
    from .server import build_server, start_ticker
    from .traffic import TrafficModel

    model = HealthModel(MonotonicClock(), time_scale=args.time_scale)
    install(model, strict_asg_delete=args.strict_asg_delete)
    traffic = TrafficModel(wall_ms, args.time_scale, MotoWorld(model))
    holds = AlarmHolds()
    install_cloudwatch(traffic, holds)
    server, app = build_server(
        model, args.host, args.port, verbose=args.verbose,
        settings={"strict_asg_delete": args.strict_asg_delete}, traffic=traffic, alarm_holds=holds,
    )
    stop = threading.Event()

    serve = threading.Thread(target=server.serve_forever, name="zdd-serve", daemon=True)
    serve.start()
    start_ticker(app, stop, period_seconds=0.02)

    def request_stop(*_: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    if not args.ignore_stdin:
        def watch_stdin() -> None:
            while sys.stdin.buffer.read1(65536) if hasattr(sys.stdin.buffer, "read1") else sys.stdin.buffer.read(1):
                pass
            stop.set()

        threading.Thread(target=watch_stdin, name="zdd-stdin", daemon=True).start()

    print(f"ZDD_LOCALAWS_READY http://{args.host}:{server.server_port}", flush=True)
    while not stop.wait(0.5):
        pass
    # server.shutdown() would wait out serve_forever's 0.5 s poll; the process is ending anyway.
    server.server_close()
    sys.stdout.flush()
    # Daemon threads may be blocked in moto; do not wait for them.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
