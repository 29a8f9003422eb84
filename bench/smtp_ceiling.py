"""The ceiling for sending: one message sent COUNT times over one reused SMTP connection.

    python bench/smtp_ceiling.py HOST PORT MESSAGE COUNT

MESSAGE is a file holding a whole message (an .eml). Nothing is composed per recipient, so the
time this takes is what the relay and the loopback allow, not what a sender does.
"""

from __future__ import annotations

import smtplib
import sys
from pathlib import Path

SENDER = "bench@blog.example.com"


def main() -> None:
    if len(sys.argv) != 5 or not sys.argv[2].isdigit() or not sys.argv[4].isdigit():
        sys.exit("usage: python bench/smtp_ceiling.py HOST PORT MESSAGE COUNT")
    host, port, message, count = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
    data = message.read_bytes()
    with smtplib.SMTP(host, port) as smtp:
        for index in range(count):
            smtp.sendmail(SENDER, [f"reader{index:06d}@example.com"], data)


if __name__ == "__main__":
    main()
