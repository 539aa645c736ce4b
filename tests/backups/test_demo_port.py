"""`serve --demo` keeps its sandbox on the same port across restarts (demo tasks keep working)."""

from __future__ import annotations

import socket
from pathlib import Path

from boxvault.backups.demo import _port


def _leave_time_wait(port: int) -> None:
    """What a stopped sandbox leaves behind: a server-side connection closed first, in TIME_WAIT."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen()
        client = socket.create_connection(("127.0.0.1", port))
        served, _ = listener.accept()
        served.close()  # the server closes first: its side goes to TIME_WAIT
        client.recv(1)
        client.close()


def test_the_port_survives_a_restart_with_connections_in_time_wait(tmp_path: Path) -> None:
    first = _port(tmp_path)
    _leave_time_wait(first)
    assert _port(tmp_path, wait=1.0) == first


def test_a_port_taken_by_another_program_moves(tmp_path: Path) -> None:
    first = _port(tmp_path)
    with socket.socket() as other:
        other.bind(("127.0.0.1", first))
        other.listen()
        moved = _port(tmp_path, wait=0.5)
    assert moved != first and (tmp_path / "port").read_text().strip() == str(moved)
