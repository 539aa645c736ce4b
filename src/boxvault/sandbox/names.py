"""Realistic, deterministic names for seeded users, folders and files (Unicode, spaces, mixed case)."""

from __future__ import annotations

import random

FIRST = [
    "Anna",
    "Bruno",
    "Chloé",
    "Dmitri",
    "Émilie",
    "Fatima",
    "Giorgos",
    "Hana",
    "Ingrid",
    "José",
    "Kenji",
    "Léa",
    "Mateo",
    "Nadia",
    "Oskar",
    "Priya",
    "Quentin",
    "Rosa",
    "Søren",
    "Tomás",
    "Uma",
    "Viktor",
    "Wei",
    "Yara",
    "Zoë",
]
LAST = [
    "Müller",
    "García",
    "O'Brien",
    "Nguyen",
    "Kowalski",
    "Rossi",
    "Dubois",
    "Søndergaard",
    "Tanaka",
    "Smith",
    "Ivanova",
    "Haddad",
    "Lefèvre",
    "Okafor",
    "Johansson",
    "Costa",
    "Novák",
    "Kim",
    "Schröder",
    "Patel",
]
FOLDER_WORDS = [
    "Projects",
    "Finance",
    "HR",
    "Marketing",
    "Q3 Reports",
    "Archive",
    "Contracts",
    "Design Assets",
    "Invoices",
    "Team Photos",
    "Überprüfung",
    "Réunions",
    "報告書",
    "Документы",
    "Presupuestos",
    "Clients",
    "Legal",
    "Roadmap",
    "Old Stuff",
    "Misc",
    "2023",
    "2024",
    "Drafts",
    "Final",
    "Research & Development",
    "Ελληνικά",
    "données",
    "Sales EMEA",
    "Board Meetings",
    "Onboarding",
    "Café Menu",
    "naïve ideas",
]
FILE_WORDS = [
    "report",
    "Budget",
    "summary",
    "Notes",
    "meeting minutes",
    "Invoice",
    "contract",
    "Résumé",
    "plan",
    "Draft",
    "presentation",
    "Übersicht",
    "見積書",
    "отчёт",
    "Lista de precios",
    "photo",
    "Scan",
    "diagram",
    "README",
    "Roadmap FINAL",
    "final final v2",
    "Agenda",
    "Expenses",
    "Q4 forecast",
    "Ünïcödé test",
    "data export",
]
EXTENSIONS = ["pdf", "docx", "xlsx", "pptx", "txt", "csv", "jpg", "png", "md", "zip", "json", "mp4"]


def person(rng: random.Random) -> tuple[str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return first, last


def folder_name(rng: random.Random) -> str:
    name = rng.choice(FOLDER_WORDS)
    if rng.random() < 0.3:
        name = f"{name} {rng.randint(1, 99)}"
    return name


def file_name(rng: random.Random) -> str:
    stem = rng.choice(FILE_WORDS)
    roll = rng.random()
    if roll < 0.3:
        stem = f"{stem} {rng.randint(2015, 2025)}-{rng.randint(1, 12):02d}"
    elif roll < 0.5:
        stem = f"{stem}_{rng.randint(1, 999)}"
    elif roll < 0.6:
        stem = stem.upper()
    if rng.random() < 0.05:
        return stem  # a file without an extension
    return f"{stem}.{rng.choice(EXTENSIONS)}"


def unique(name: str, taken: set[str]) -> str:
    """Box names are unique per folder ignoring case: add ' (n)' before the extension like a desktop would."""
    candidate = name
    n = 2
    while candidate.casefold() in taken:
        stem, dot, ext = name.rpartition(".")
        candidate = f"{stem} ({n}).{ext}" if dot and stem else f"{name} ({n})"
        n += 1
    taken.add(candidate.casefold())
    return candidate
