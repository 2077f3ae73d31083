"""sqlite3 storage: one connection per app context, closed at teardown."""

from __future__ import annotations

import sqlite3
from typing import Any

import click
from flask import Flask, current_app, g

SCHEMA = """
DROP TABLE IF EXISTS post;
DROP TABLE IF EXISTS user;

CREATE TABLE user (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username TEXT UNIQUE NOT NULL,
  password TEXT NOT NULL
);

CREATE TABLE post (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  author_id INTEGER NOT NULL,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  FOREIGN KEY (author_id) REFERENCES user (id)
);
"""


def get_db() -> sqlite3.Connection:
    if "db" not in g:
        g.db = sqlite3.connect(current_app.config["DATABASE"])
        g.db.row_factory = sqlite3.Row
    return g.db  # type: ignore[no-any-return]


def close_db(exc: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()


def init_db() -> None:
    get_db().executescript(SCHEMA)


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_db)

    @app.cli.command("init-db")
    @click.option("--demo", is_flag=True, help="Also add a demo user and post.")
    def init_db_command(demo: bool) -> None:
        """Clear the existing data and create new tables."""
        init_db()
        if demo:
            from werkzeug.security import generate_password_hash

            db = get_db()
            cur = db.execute(
                "INSERT INTO user (username, password) VALUES (?, ?)",
                ("demo", generate_password_hash("demo")),
            )
            db.execute(
                "INSERT INTO post (title, body, author_id) VALUES (?, ?, ?)",
                ("Welcome", "First post from the demo user.", cur.lastrowid),
            )
            db.commit()
        click.echo("Initialized the database.")


def query(sql: str, args: tuple[Any, ...] = (), one: bool = False) -> Any:
    cur = get_db().execute(sql, args)
    rows = cur.fetchall()
    cur.close()
    return (rows[0] if rows else None) if one else rows
