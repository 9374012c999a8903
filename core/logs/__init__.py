"""Log ingestion: parse lines of many formats, redact secrets, mine templates.

* :mod:`core.logs.parse`      ``parse_line(line) -> ParsedLog`` (JSON, journald, logfmt, syslog, klog, CLF, text)
* :mod:`core.logs.header`     generic header detection for plain-text lines
* :mod:`core.logs.redact`     ``redact(text)`` before anything is stored or sent to an LLM
* :mod:`core.logs.masking`    variable masking (``<*>``) used by the miner
* :mod:`core.logs.miner`      ``TemplateMiner.add(message) -> (template_id, template, is_new)``
* :mod:`core.logs.state`      persist / resume miner state (stable template ids)
* :mod:`core.logs.embedding`  embed each new template once, never every line
"""
