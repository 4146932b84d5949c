"""The shared building blocks every page uses (console/src/components), in real Chromium on a console built
with probe pages only: server-side cursor pages, sorting and CSV of HTable; API field errors under their
field; pickers that read and write the app's timezone whatever the browser's; money typed in 元 held in fen;
the destructive-action confirmation; the Vue Flow canvas."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from tests.browser.fixtures import ARTIFACTS, ConsoleSession, LiveServer, build_console, serve_live

TABLE = """
<script setup>
import { HTable } from "@console/blocks.js";
const columns = [
  { key: "name", title: { zh: "名称", en: "Name" }, serverSort: true },
  { key: "role", title: { zh: "角色", en: "Role" }, serverSort: true },
  { key: "id", title: { zh: "编号", en: "Id" }, csvOnly: true },
];
</script>
<template><HTable id="keys" source="/admin/keys" :columns="columns" :page-size="2" csv="keys" /></template>
"""

FORM = """
<script setup>
import { reactive } from "vue";
import { HField, HForm, useConsole, useForm } from "@console/blocks.js";
const ctx = useConsole();
const form = useForm(ctx.t);
const key = reactive({ name: "" });
const body = () => ({ name: key.name, role: "analyst" });
const save = () => form.submit(() => ctx.api("/admin/keys", { method: "POST", body: body() }), ["name"]);
</script>
<template>
  <HForm id="key-form" :form="form" @submit="save">
    <HField name="name" :label="ctx.t({ zh: '名称', en: 'Name' })" :form="form">
      <el-input id="key-name" v-model="key.name" name="name" />
    </HField>
  </HForm>
</template>
"""

PICKERS = """
<script setup>
import { ref } from "vue";
import { ConfirmButton, DateTimePicker, FlowCanvas, MoneyInput } from "@console/blocks.js";
const when = ref("2026-12-08T09:30:00+08:00");
const fen = ref(1000);
const confirmed = ref(0);
const nodes = [
  { id: "a", position: { x: 0, y: 0 }, data: { label: "进入分群" } },
  { id: "b", position: { x: 0, y: 120 }, data: { label: "发送订阅消息" } },
];
const edges = [{ id: "ab", source: "a", target: "b" }];
</script>
<template>
  <DateTimePicker id="when" v-model="when" />
  <code id="when-out">{{ when }}</code>
  <MoneyInput id="money" v-model="fen" />
  <code id="money-out">{{ String(fen) }}</code>
  <ConfirmButton id="danger" message="confirm.title" @confirm="confirmed += 1">{{ "X" }}</ConfirmButton>
  <code id="confirmed">{{ confirmed }}</code>
  <FlowCanvas :nodes="nodes" :edges="edges" height="300px" />
</template>
"""


@pytest.fixture(scope="module")
def blocks_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pages = {
        "probe-table": ("表格", "Table", TABLE),
        "probe-form": ("表单", "Form", FORM),
        "probe-pickers": ("选择器", "Pickers", PICKERS),
    }
    return build_console(tmp_path_factory.mktemp("blocks"), pages)


@pytest.fixture
def blocks(
    blocks_dist: Path, browser: Any, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[ConsoleSession]:
    with serve_live(tmp_path, console_dist=blocks_dist) as server:
        keys = server.make_app("shop", "小店", timezone="Asia/Shanghai")
        # the browser sits in New York: what the operator types and sees is still Shanghai time
        context = browser.new_context(
            viewport={"width": 1280, "height": 860},
            locale="zh-CN",
            timezone_id="America/New_York",
            accept_downloads=True,
        )
        artifacts = ARTIFACTS / request.node.name
        artifacts.mkdir(parents=True, exist_ok=True)
        session = ConsoleSession(context, server, artifacts)
        session.goto()
        session.sign_in(keys["owner"])
        try:
            yield session
        finally:
            session.shot("final")
            context.close()
        session.check()


def _server(blocks: ConsoleSession) -> LiveServer:
    return blocks.server


def test_table_pages_on_the_server_sorts_there_and_exports_every_row(blocks: ConsoleSession) -> None:
    page, server = blocks.page, _server(blocks)
    owner = server.keys["shop"]["owner"]
    for name in ["delta", "alpha", "echo", "bravo"]:
        assert (
            server.api(owner, "POST", "/admin/keys", json={"name": name, "role": "analyst"}).status_code
            == 201
        )
    blocks.goto("#/probe-table")
    blocks.wait_ready()
    rows = page.locator("#keys tbody tr")
    assert rows.count() == 2  # seven keys (one per role, and four), two a page
    assert page.locator("#keys th", has_text="编号").count() == 0  # a CSV-only column is not on screen
    seen = rows.all_inner_texts()
    page.locator("#keys .htable-pager .next").click()
    page.locator("#keys .htable-pager", has_text="第 2 页").wait_for()
    page.wait_for_function(
        "(before) => [...document.querySelectorAll('#keys tbody tr')].map((r) => r.innerText).join('|') !== before",
        arg="|".join(seen),
    )
    assert rows.count() == 2
    # sorting asks the server (sort=name) and starts again from page one
    mark = len(blocks.requests)
    page.locator("#keys th", has_text="名称").click()
    page.locator("#keys .htable-pager", has_text="第 1 页").wait_for()
    sorted_calls = [r for r in blocks.requests[mark:] if "/admin/keys" in r.url]
    assert sorted_calls and parse_qs(urlsplit(sorted_calls[-1].url).query)["sort"] == ["name"]
    page.locator("#keys tbody tr").first.get_by_text("alpha").wait_for()
    blocks.shot("sorted")

    with page.expect_download() as info:
        page.locator("#keys .csv").click()
    text = Path(info.value.path()).read_text(encoding="utf-8")
    assert text.startswith("\ufeff")  # Excel reads the Chinese header as UTF-8
    table = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert table[0] == ["名称", "角色", "编号"]
    names = ["alpha", "analyst", "bravo", "delta", "echo", "operator", "owner"]
    assert [r[0] for r in table[1:]] == names  # every row, in the sorted order the table shows
    assert len({r[2] for r in table[1:]}) == 7 and all(r[2] for r in table[1:])  # each key's own id


def test_form_shows_the_api_field_error_under_its_field_in_both_languages(blocks: ConsoleSession) -> None:
    page = blocks.page
    blocks.allow_console_error(r"status of 422")
    blocks.goto("#/probe-form")
    blocks.wait_ready()
    page.locator("#key-form button[type=submit]").click()
    error = page.locator("#key-form .field-error[data-field=name]")
    error.wait_for()
    assert error.inner_text() == "至少需要 1 个字符"
    assert page.locator("#key-name").get_attribute("aria-invalid") == "true"
    assert page.locator("#key-name").get_attribute("aria-describedby") == error.get_attribute("id")
    # switching language says the same refusal again in English
    page.locator("#lang-toggle").click()
    page.locator(
        "#key-form .field-error[data-field=name]", has_text="String should have at least 1 character"
    ).wait_for()


def test_pickers_money_confirmation_and_flow_canvas(blocks: ConsoleSession) -> None:
    page = blocks.page
    blocks.goto("#/probe-pickers")
    blocks.wait_ready()
    # the instant 01:30 UTC shows as 09:30 in the app's zone, though the browser is in New York
    assert page.locator("#when").input_value() == "2026-12-08 09:30"
    page.locator("#when").fill("2026-12-24 20:00")
    page.locator("#when").press("Enter")
    page.locator("#when-out", has_text="2026-12-24T20:00:00+08:00").wait_for()

    assert page.locator("#money").input_value() == "10.00"
    page.locator("#money").fill("1,234.5")
    page.locator("#money-out", has_text="123450").wait_for()
    page.locator("#money").fill("1.234")  # three decimals is not an amount: nothing is held
    page.locator("#money-out", has_text="null").wait_for()

    page.locator("#danger").click()
    page.locator(".el-message-box").wait_for()
    page.locator(".el-message-box .el-button:not(.el-button--danger):not(.el-button--primary)").first.click()
    page.locator(".el-message-box").wait_for(state="hidden")
    assert page.locator("#confirmed").inner_text() == "0"  # cancelled: nothing done
    page.locator("#danger").click()
    blocks.confirm()
    page.locator("#confirmed", has_text="1").wait_for()

    page.locator(".vue-flow__node").nth(1).wait_for()
    assert page.locator(".vue-flow__node").all_inner_texts() == ["进入分群", "发送订阅消息"]
    assert page.locator(".vue-flow__edge").count() == 1
    blocks.shot("pickers")
