"""A local SMTP server that keeps every mail as an .eml file: the demo's mail server.

`schoolwacht run --demo` starts one so a newcomer sees the alerts and the digest without
configuring mail; the files open in any mail program.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class _SaveToDirectory:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        count = len(list(self.directory.glob("*.eml"))) + 1
        (self.directory / f"{count:04d}.eml").write_bytes(envelope.original_content or envelope.content)
        return "250 OK"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class MailCatcher:
    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int | None = None) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.host = host
        self.port = port or free_port(host)
        self._controller = Controller(_SaveToDirectory(directory), hostname=host, port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()
