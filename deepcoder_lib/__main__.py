"""Command line: ``python -m deepcoder_lib {lab,doctor,prepare,evaluate}`` (also installed as ``deepcoder``)."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m deepcoder_lib", description="deepcoder course tools")
    sub = parser.add_subparsers(dest="command", required=True)
    doc = sub.add_parser("doctor", help="check this machine is ready for the course")
    doc.add_argument("--no-load", action="store_true", help="do not load the model (faster)")
    prep = sub.add_parser("prepare", help="prepare the embedded model once, before class")
    prep.add_argument("--force", action="store_true", help="rebuild even if the prepared folder looks fine")
    prep.add_argument("--all", action="store_true", help="also the Qwen2 tokenizer and the twins: everything a shared, "
                      "read-only cache needs (a class hub)")
    sub.add_parser("evaluate", help="run the text-to-code task suite (see --help)", add_help=False)
    sub.add_parser("lab", help="prepare the model if needed and open the course in JupyterLab", add_help=False)
    if argv[:1] == ["lab"]:
        from . import launch
        return launch.main(argv[1:])
    if argv[:1] == ["evaluate"]:
        from . import evaluation_cli
        return evaluation_cli.main(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "doctor":
        from . import doctor
        checks = doctor.run_checks(load_model=not args.no_load)
        print(doctor.report(checks))
        return 1 if any(c.status == doctor.FAIL for c in checks) else 0
    if args.command == "prepare":
        from . import prepare
        try:
            path = prepare.prepare(force=args.force)
        except prepare.ModelNotInstalledError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(f"embedded model ready: {path}")
        if args.all:
            from . import tokens, twins
            print(f"Qwen2 tokenizer ready: {tokens.prepare_qwen2(force=args.force)}")
            for name in twins.twin_names():
                print(f"twin {name} ready: {twins.build_twin(name, force=args.force)}")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
