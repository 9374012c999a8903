"""Building the Slack app: the configured API base URL is used (GovSlack, recorders), and a token
Slack rejects stops startup with a clear error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.services import BotServices
from bot.slack_app import build_slack_app
from core.db.store import RelationalStore
from core.errors import BackendUnavailable, ConfigError
from core.model import Answer, Question
from core.settings import Settings, SlackSettings
from tests.fixtures.net import free_port
from tests.fixtures.slack_recorder import SlackRecorder


def _never(question: Question, platform: str) -> Answer:
    raise AssertionError("building the app must not ask anything")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[RelationalStore]:
    store = RelationalStore(f"sqlite:///{tmp_path / 'x.db'}")
    yield store
    store.close()


def _services(tmp_path: Path, db: RelationalStore, slack: SlackSettings) -> BotServices:
    return BotServices(settings=Settings(data_dir=tmp_path, slack=slack), db=db, ask=_never)


def test_api_base_url_is_used_with_or_without_trailing_slash(tmp_path: Path, db: RelationalStore) -> None:
    with SlackRecorder() as rec:
        base = rec.base_url.rstrip("/")
        app = build_slack_app(_services(tmp_path, db, SlackSettings(bot_token="xoxb-1", api_base_url=base)))
        [auth] = rec.of("auth.test")
        assert auth.token == "xoxb-1"
        assert app.client.base_url == rec.base_url


def test_a_rejected_token_is_a_config_error(tmp_path: Path, db: RelationalStore) -> None:
    with SlackRecorder() as rec:
        rec.fail_methods["auth.test"] = "invalid_auth"
        with pytest.raises(ConfigError, match="Slack rejected the bot token") as e:
            build_slack_app(_services(tmp_path, db, SlackSettings(bot_token="xoxb-bad", api_base_url=rec.base_url)))
        assert e.value.hint and "SHERLOG_SLACK__BOT_TOKEN" in e.value.hint


def test_an_unreachable_api_is_backend_unavailable(tmp_path: Path, db: RelationalStore) -> None:
    url = f"http://127.0.0.1:{free_port()}/api/"
    with pytest.raises(BackendUnavailable, match="could not reach the Slack API"):
        build_slack_app(_services(tmp_path, db, SlackSettings(bot_token="xoxb-1", api_base_url=url)))


def test_no_bot_token_is_a_config_error(tmp_path: Path, db: RelationalStore) -> None:
    with pytest.raises(ConfigError, match="bot token"):
        build_slack_app(_services(tmp_path, db, SlackSettings()))
