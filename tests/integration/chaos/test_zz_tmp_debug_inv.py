from pathlib import Path
import json, httpx
from core.settings import Settings
from chaos.local.run import run_local
from tests.integration.chaos.test_local_target import sherlog_server, _investigations, _about
from core.model import Answer

def test_dbg(settings: Settings, tmp_path: Path) -> None:
    with sherlog_server(settings) as sherlog:
        def answered(_):
            return any(_about(i, "payments") and i.get("answer") for i in _investigations(sherlog.url))
        result = run_local("errors:payments", sherlog_url=sherlog.url, workdir=tmp_path / "target", wait_for=answered)
        print("delivered", result.delivered_at, "fired", result.fired_at, "injected", result.injected_at)
        for i in reversed(_investigations(sherlog.url)):
            a = Answer.model_validate(i["answer"]) if i["answer"] else None
            print(i["id"], i["created_at"], i["finished_at"], i["trigger"]["labels"].get("service"), i["trigger"]["alertname"], i["status"], i["question"])
            if a:
                print("   ", [(rc.entity, rc.confidence) for rc in a.root_causes][:4], a.summary[:200])
                print("    caveats", a.caveats[:3])
