"""Feature and experiment evaluation with GrowthBook's semantics (spec cases.json: `feature`, `run`,
`stickyBucket`), in-process and allocation-light so a request can evaluate every flag of an app.

A feature is `{defaultValue, rules}`; a rule either forces a value (optionally to a coverage slice or a
hash range: percentage rollouts) or runs an experiment over `variations`. Conditions target attributes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from huoli.flags.assignment import bucket_ranges, choose_variation, gb_hash, in_namespace, in_range
from huoli.flags.conditions import cached_condition, eval_condition, js_str, js_truthy

_EXPERIMENT_FIELDS = (
    "key",
    "variations",
    "weights",
    "active",
    "coverage",
    "condition",
    "namespace",
    "force",
    "hashAttribute",
    "fallbackAttribute",
    "hashVersion",
    "disableStickyBucketing",
    "bucketVersion",
    "minBucketVersion",
    "meta",
    "ranges",
    "filters",
    "seed",
    "name",
    "phase",
    "parentConditions",
)
# Rule fields copied onto the experiment a feature rule runs (GrowthBook copies these).
_RULE_TO_EXPERIMENT = (
    "coverage",
    "weights",
    "hashAttribute",
    "fallbackAttribute",
    "disableStickyBucketing",
    "bucketVersion",
    "minBucketVersion",
    "namespace",
    "meta",
    "ranges",
    "name",
    "phase",
    "seed",
    "hashVersion",
    "filters",
    "condition",
)


@dataclass
class Context:
    attributes: Mapping[str, Any] = field(default_factory=dict)
    features: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    forced_variations: Mapping[str, int] = field(default_factory=dict)
    saved_groups: Mapping[str, Any] = field(default_factory=dict)
    enabled: bool = True
    qa_mode: bool = False
    url: str = ""
    # None: sticky bucketing off. Otherwise docs keyed "attribute||value" → {attributeName, attributeValue,
    # assignments{"<experiment>__<bucketVersion>": variationKey}}, updated in place on assignment.
    sticky_docs: dict[str, dict[str, Any]] | None = None
    on_exposure: Callable[[Mapping[str, Any], dict[str, Any]], None] | None = None


def query_string_override(key: str, url: str, n: int) -> int | None:
    if not url:
        return None
    query = urlsplit(url).query
    for k, v in parse_qsl(query, keep_blank_values=True):
        if k == key:
            try:
                i = int(v)
            except ValueError:
                return None
            return i if 0 <= i < n else None
    return None


def feature_result(
    value: Any,
    source: str,
    rule_id: str = "",
    experiment: Mapping[str, Any] | None = None,
    result: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "value": value,
        "on": js_truthy(value),
        "off": not js_truthy(value),
        "source": source,
        "ruleId": rule_id or "",
    }
    if experiment is not None:
        out["experiment"] = dict(experiment)
    if result is not None:
        out["experimentResult"] = dict(result)
    return out


class Evaluator:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # --- attributes and hashing ------------------------------------------------------------------

    def _raw_hash_attribute(self, attr: str | None, fallback: str | None = None) -> tuple[str, Any]:
        name = attr or "id"
        value = self.ctx.attributes.get(name)
        if (value is None or value == "") and fallback:
            fb = self.ctx.attributes.get(fallback)
            if fb is not None and fb != "":
                name, value = fallback, fb
        return name, "" if value is None else value

    def _hash_attribute(self, attr: str | None, fallback: str | None = None) -> tuple[str, str]:
        name, value = self._raw_hash_attribute(attr, fallback)
        return name, js_str(value) if value != "" else ""

    def _sticky_on(self, exp: Mapping[str, Any]) -> bool:
        return self.ctx.sticky_docs is not None and not exp.get("disableStickyBucketing")

    def _filtered_out(self, filters: list[Mapping[str, Any]]) -> bool:
        for f in filters:
            _, value = self._hash_attribute(f.get("attribute"))
            if not value:
                return True
            n = gb_hash(f.get("seed", ""), value, f.get("hashVersion") or 2)
            if n is None or not any(in_range(n, r) for r in f.get("ranges", [])):
                return True
        return False

    def _in_rollout(
        self,
        seed: str,
        attr: str | None,
        fallback: str | None,
        rng: list[float] | None,
        coverage: float | None,
        version: int | None,
    ) -> bool:
        if rng is None and coverage is None:
            return True
        if rng is None and coverage == 0:
            return False
        _, value = self._hash_attribute(attr, fallback)
        if not value:
            return False
        n = gb_hash(seed, value, version or 1)
        if n is None:
            return False
        if rng is not None:
            return in_range(n, rng)
        return coverage is None or n <= coverage

    def _condition(self, condition: Mapping[str, Any]) -> bool:
        return cached_condition(condition)(self.ctx.attributes, self.ctx.saved_groups)

    # --- features --------------------------------------------------------------------------------

    def _parents_pass(
        self, parents: list[Mapping[str, Any]], stack: frozenset[str]
    ) -> tuple[bool, dict[str, Any] | None]:
        """(passes, early result): a failed gate or a prerequisite cycle ends the whole evaluation."""
        for parent in parents:
            res = self.eval_feature(parent["id"], stack)
            if res["source"] == "cyclicPrerequisite":
                return False, feature_result(None, "cyclicPrerequisite")
            if not eval_condition(
                {"value": res["value"]}, parent.get("condition") or {}, self.ctx.saved_groups
            ):
                if parent.get("gate"):
                    return False, feature_result(None, "prerequisite")
                return False, None
        return True, None

    def eval_feature(self, key: str, stack: frozenset[str] = frozenset()) -> dict[str, Any]:
        if key in stack:
            return feature_result(None, "cyclicPrerequisite")
        feature = self.ctx.features.get(key)
        if feature is None:
            return feature_result(None, "unknownFeature")
        stack = stack | {key}
        for rule in feature.get("rules") or []:
            parents = rule.get("parentConditions")
            if parents:
                ok, early = self._parents_pass(parents, stack)
                if early is not None:
                    return early
                if not ok:
                    continue
            if rule.get("filters") and self._filtered_out(rule["filters"]):
                continue
            if "force" in rule:
                if rule.get("condition") and not self._condition(rule["condition"]):
                    continue
                fallback = rule.get("fallbackAttribute") if self._sticky_on(rule) else None
                if not self._in_rollout(
                    rule.get("seed") or key,
                    rule.get("hashAttribute"),
                    fallback,
                    rule.get("range"),
                    rule.get("coverage"),
                    rule.get("hashVersion"),
                ):
                    continue
                return feature_result(rule["force"], "force", rule.get("id", ""))
            if not rule.get("variations"):
                continue
            exp: dict[str, Any] = {"variations": rule["variations"], "key": rule.get("key") or key}
            for f in _RULE_TO_EXPERIMENT:
                if f in rule:
                    exp[f] = rule[f]
            res = self.run(exp, key)
            if res["inExperiment"] and not res.get("passthrough"):
                return feature_result(res["value"], "experiment", rule.get("id", ""), exp, res)
        return feature_result(feature.get("defaultValue"), "defaultValue")

    # --- experiments -----------------------------------------------------------------------------

    def _sticky_assignments(self, exp: Mapping[str, Any]) -> dict[str, Any]:
        docs = self.ctx.sticky_docs or {}
        merged: dict[str, Any] = {}
        name = exp.get("hashAttribute") or "id"
        value = self.ctx.attributes.get(name)
        fallback = exp.get("fallbackAttribute")
        if fallback:
            fb_value = self.ctx.attributes.get(fallback)
            doc = docs.get(f"{fallback}||{js_str(fb_value)}") if fb_value is not None else None
            merged.update((doc or {}).get("assignments", {}))
        if value is not None:
            doc = docs.get(f"{name}||{js_str(value)}")
            merged.update((doc or {}).get("assignments", {}))
        return merged

    def _sticky_variation(self, exp: Mapping[str, Any]) -> tuple[int, bool]:
        key = exp["key"]
        version = exp.get("bucketVersion") or 0
        min_version = exp.get("minBucketVersion") or 0
        meta = exp.get("meta") or []
        assignments = self._sticky_assignments(exp)
        for v in range(min_version):
            if f"{key}__{v}" in assignments:
                return -1, True
        variation_key = assignments.get(f"{key}__{version}")
        if variation_key is None:
            return -1, False
        for i, m in enumerate(meta):
            if m.get("key") == variation_key:
                return i, False
        return -1, False

    def _result(
        self,
        exp: Mapping[str, Any],
        index: int,
        hash_used: bool,
        feature_id: str | None,
        bucket: float | None = None,
        sticky_used: bool = False,
    ) -> dict[str, Any]:
        in_exp = True
        variations = exp["variations"]
        if index < 0 or index >= len(variations):
            index, in_exp = 0, False
        fallback = exp.get("fallbackAttribute") if self._sticky_on(exp) else None
        attr, value = self._raw_hash_attribute(exp.get("hashAttribute"), fallback)
        metas = exp.get("meta")
        meta = metas[index] if metas and index < len(metas) else {}
        res: dict[str, Any] = {
            "key": meta.get("key") or str(index),
            "featureId": feature_id,
            "inExperiment": in_exp,
            "hashUsed": hash_used,
            "variationId": index,
            "value": variations[index],
            "hashAttribute": attr,
            "hashValue": value,
            "stickyBucketUsed": sticky_used,
        }
        if meta.get("name"):
            res["name"] = meta["name"]
        if bucket is not None:
            res["bucket"] = bucket
        if meta.get("passthrough"):
            res["passthrough"] = meta["passthrough"]
        return res

    def run(self, exp: Mapping[str, Any], feature_id: str | None = None) -> dict[str, Any]:
        """Assign the user to a variation (or not); `inExperiment` False means 'show the control'."""
        key = exp["key"]
        n_var = len(exp["variations"])
        if n_var < 2 or not self.ctx.enabled:
            return self._result(exp, -1, False, feature_id)
        qs = query_string_override(key, self.ctx.url, n_var)
        if qs is not None:
            return self._result(exp, qs, False, feature_id)
        if key in self.ctx.forced_variations:
            return self._result(exp, self.ctx.forced_variations[key], False, feature_id)
        if exp.get("status") == "draft" or exp.get("active") is False:
            return self._result(exp, -1, False, feature_id)
        sticky = self._sticky_on(exp)
        _, hash_value = self._hash_attribute(
            exp.get("hashAttribute"), exp.get("fallbackAttribute") if sticky else None
        )
        if not hash_value:
            return self._result(exp, -1, False, feature_id)
        assigned, found_sticky, blocked = -1, False, False
        if sticky:
            assigned, blocked = self._sticky_variation(exp)
            found_sticky = assigned >= 0
        if not found_sticky:
            if exp.get("filters"):
                if self._filtered_out(exp["filters"]):
                    return self._result(exp, -1, False, feature_id)
            elif exp.get("namespace") and not in_namespace(hash_value, exp["namespace"]):
                return self._result(exp, -1, False, feature_id)
            if exp.get("condition") and not self._condition(exp["condition"]):
                return self._result(exp, -1, False, feature_id)
            if exp.get("parentConditions"):
                ok, _ = self._parents_pass(exp["parentConditions"], frozenset())
                if not ok:
                    return self._result(exp, -1, False, feature_id)
        n = gb_hash(exp.get("seed") or key, hash_value, exp.get("hashVersion") or 1)
        if n is None:
            return self._result(exp, -1, False, feature_id)
        if not found_sticky:
            ranges = exp.get("ranges") or bucket_ranges(n_var, exp.get("coverage", 1), exp.get("weights"))
            assigned = choose_variation(n, ranges)
        if blocked or assigned < 0:
            return self._result(exp, -1, False, feature_id, sticky_used=blocked)
        if "force" in exp:
            return self._result(exp, exp["force"], False, feature_id)
        if self.ctx.qa_mode or exp.get("status") == "stopped":
            return self._result(exp, -1, False, feature_id)
        res = self._result(exp, assigned, True, feature_id, n, found_sticky)
        if sticky:
            self._save_sticky(exp, res)
        if self.ctx.on_exposure is not None:
            self.ctx.on_exposure(exp, res)
        return res

    def _save_sticky(self, exp: Mapping[str, Any], res: Mapping[str, Any]) -> None:
        docs = self.ctx.sticky_docs
        assert docs is not None
        attr, value = res["hashAttribute"], js_str(res["hashValue"])
        doc_key = f"{attr}||{value}"
        exp_key = f"{exp['key']}__{exp.get('bucketVersion') or 0}"
        doc = docs.get(doc_key)
        if doc is None or doc.get("assignments", {}).get(exp_key) != res["key"]:
            assignments = dict((doc or {}).get("assignments", {}))
            assignments[exp_key] = res["key"]
            docs[doc_key] = {"attributeName": attr, "attributeValue": value, "assignments": assignments}


def sticky_docs_for(
    attributes: Mapping[str, Any], docs: list[Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Keep the stored docs that belong to this user's current attribute values."""
    out: dict[str, dict[str, Any]] = {}
    for doc in docs:
        name, value = doc["attributeName"], doc["attributeValue"]
        if name in attributes and js_str(attributes[name]) == js_str(value):
            out[f"{name}||{value}"] = dict(doc)
    return out
