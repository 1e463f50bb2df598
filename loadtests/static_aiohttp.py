"""The simulator's HTTP stack doing WireMock's job: aiohttp answering a captured eTar answer.

    python loadtests/static_aiohttp.py --port P --answer FILE [--content-type T] [--processes 2]

What WireMock's stub does in bench_wiremock.py, on the simulator's own stack (aiohttp, lxml,
one process per core as `serve --workers 2`): POST on the eTar path, the SOAPAction equal to
eTar's, the body parsed and //tar:TarificationConsultationRequest found in it, then the same
bytes every time. No verification, no rules, no signature, no journal: the floor under the
simulator's CPU per request, whatever the service does.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
from pathlib import Path

from aiohttp import web
from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator.codecs.tarification import NAMESPACE

PATH = "/MyCareNet/Tarification/v1"
ACTION = '"urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1:TarificationConsult"'
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
_MATCH = etree.XPath("//tar:TarificationConsultationRequest", namespaces={"tar": NAMESPACE})


def application(answer: bytes, content_type: str) -> web.Application:
    async def etar(request: web.Request) -> web.Response:
        if request.headers.get("SOAPAction") != ACTION:
            return web.Response(status=404)
        try:
            root = etree.fromstring(await request.read(), _PARSER)
        except etree.XMLSyntaxError:
            return web.Response(status=404)
        if not _MATCH(root):
            return web.Response(status=404)
        return web.Response(body=answer, headers={"Content-Type": content_type})

    app = web.Application()
    app.router.add_post(PATH, etar)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--answer", type=Path, required=True)
    parser.add_argument("--content-type", default="text/xml; charset=utf-8")
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    answer = args.answer.read_bytes()
    listening = socket.create_server(("127.0.0.1", args.port), backlog=1024)
    children = []
    for _ in range(args.processes):
        pid = os.fork()
        if pid == 0:
            web.run_app(
                application(answer, args.content_type), sock=listening, print=None,
                access_log=None,
            )  # fmt: skip
            os._exit(0)
        children.append(pid)

    def stop(signum: int, _frame: object) -> None:  # the benchmark stops the parent only
        for pid in children:
            os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for pid in children:
        os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
