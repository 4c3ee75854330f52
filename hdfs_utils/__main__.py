"""Command line of hdfs_utils: HDFS on the cluster that HADOOP_CONF_DIR names.

    python -m hdfs_utils put LOCAL REMOTE [-f] [--no-verify]
    python -m hdfs_utils get REMOTE LOCAL [-f] [--no-verify]
    python -m hdfs_utils ls [-R] PATH
    python -m hdfs_utils cat PATH
    python -m hdfs_utils rm [-r] [-f] PATH
    python -m hdfs_utils exists PATH          # exit status 0 if it exists, 1 if not
    python -m hdfs_utils checksum PATH [LOCAL] # with LOCAL: exit status 1 if they differ
    python -m hdfs_utils env                  # `export` lines: eval "$(python -m hdfs_utils env)"
"""

import argparse
import shlex
import sys

from hdfs_utils import env as hadoop
from hdfs_utils import hdfs


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m hdfs_utils",
        description="HDFS on the cluster HADOOP_CONF_DIR names (default: the MiniCluster of "
                    "`make hadoop-up`).")
    commands = parser.add_subparsers(dest="command", required=True)

    put = commands.add_parser("put", help="upload a file or directory, verified")
    put.add_argument("local")
    put.add_argument("remote", help="the destination itself; parents are created")
    put.add_argument("-f", "--force", action="store_true", help="replace an existing REMOTE")
    put.add_argument("--no-verify", action="store_true", help="skip the size/checksum check")

    get = commands.add_parser("get", help="download a file or directory, verified")
    get.add_argument("remote")
    get.add_argument("local")
    get.add_argument("-f", "--force", action="store_true", help="replace an existing LOCAL")
    get.add_argument("--no-verify", action="store_true", help="skip the size/checksum check")

    ls = commands.add_parser("ls", help="list a directory (or a file)")
    ls.add_argument("-R", "--recursive", action="store_true")
    ls.add_argument("path")

    cat = commands.add_parser("cat", help="print a file")
    cat.add_argument("path")

    rm = commands.add_parser("rm", help="delete (bypassing the trash)")
    rm.add_argument("-r", "--recursive", action="store_true", help="delete a directory")
    rm.add_argument("-f", "--force", action="store_true", help="no error if PATH is missing")
    rm.add_argument("path")

    exists = commands.add_parser("exists", help="exit status 0 if PATH exists, 1 if not")
    exists.add_argument("path")

    checksum = commands.add_parser(
        "checksum", help="HDFS's whole-file CRC (COMPOSITE-CRC32C); compared with LOCAL if given")
    checksum.add_argument("path")
    checksum.add_argument("local", nargs="?")

    commands.add_parser("env", help="print the Hadoop environment as shell `export` lines")
    return parser


def _run(args):
    if args.command == "put":
        count = hdfs.put(args.local, args.remote, overwrite=args.force,
                         verify_upload=not args.no_verify)
        checked = "" if args.no_verify else ", sizes and checksums verified"
        print(f"put {args.local} -> {args.remote} ({count} file(s){checked})")
    elif args.command == "get":
        count = hdfs.get(args.remote, args.local, overwrite=args.force,
                         verify_download=not args.no_verify)
        checked = "" if args.no_verify else ", sizes and checksums verified"
        print(f"get {args.remote} -> {args.local} ({count} file(s){checked})")
    elif args.command == "ls":
        for entry in hdfs.ls(args.path, recursive=args.recursive):
            size = "-" if entry.is_dir else str(entry.size)
            print(f"{entry.permission} {entry.owner} {entry.group} {size:>12} "
                  f"{entry.modified} {entry.path}")
    elif args.command == "cat":
        sys.stdout.buffer.write(hdfs.cat(args.path))
    elif args.command == "rm":
        hdfs.rm(args.path, recursive=args.recursive, missing_ok=args.force)
    elif args.command == "exists":
        found = hdfs.exists(args.path)
        print(f"{args.path} {'exists' if found else 'does not exist'}")
        return 0 if found else 1
    elif args.command == "checksum":
        remote = hdfs.checksum(args.path)
        print(f"{remote.algorithm}\t{remote.value}\t{args.path}")
        if args.local:
            local = hdfs.local_checksum(args.local, remote.algorithm)
            print(f"{local.algorithm}\t{local.value}\t{args.local}")
            if local != remote:
                print("checksums differ", file=sys.stderr)
                return 1
    elif args.command == "env":
        for name, value in hadoop.hadoop_env().items():
            print(f"export {name}={shlex.quote(value)}")
    return 0


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (hdfs.HdfsError, hadoop.HadoopNotFound) as error:
        print(f"hdfs_utils: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
