"""Secrets at rest: the keyring, the column type on both databases, the data migration and key rotation."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from huoli import crypto, migrate
from huoli.apps import service as apps
from huoli.apps.models import App
from huoli.apps.schemas import AppCreate
from huoli.crypto import EncryptionKeyError, Keyring, generate_key
from huoli.db import make_engine, make_session_factory, unit_of_work
from huoli.models import Base
from huoli.promotions.models import WeChatPayMerchant
from huoli.runtime import Runtime, build_runtime
from huoli.settings import Settings
from huoli.staff.models import StaffMember
from huoli.users.models import WxSessionKey

WX_SECRET = "wx-app-secret-0123456789abcdef"


def raw(engine: sa.Engine, sql: str) -> list[tuple[object, ...]]:
    """Rows as stored, without the column types' decryption."""
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


def test_keyring_round_trip_key_ids_and_labels() -> None:
    old, new = generate_key(), generate_key()
    ring = Keyring.from_strings([new, old])
    stored = ring.encrypt("s3cret", "apps.wx_secret")
    assert stored.startswith(f"enc1:{ring.current_id}:") and "s3cret" not in stored
    assert stored != ring.encrypt("s3cret", "apps.wx_secret")  # a fresh nonce each time
    assert ring.decrypt(stored, "apps.wx_secret") == "s3cret"
    assert ring.is_current(stored)
    under_old = Keyring.from_strings([old]).encrypt("s3cret", "apps.wx_secret")
    assert ring.decrypt(under_old, "apps.wx_secret") == "s3cret" and not ring.is_current(under_old)
    with pytest.raises(EncryptionKeyError, match="authentication check"):  # moved to another column
        ring.decrypt(stored, "apps.server_secret")
    tampered = stored[:-2] + ("AA" if not stored.endswith("AA") else "BB")
    with pytest.raises(EncryptionKeyError, match="authentication check"):
        ring.decrypt(tampered, "apps.wx_secret")
    with pytest.raises(EncryptionKeyError, match="not among the configured keys"):
        Keyring.from_strings([generate_key()]).decrypt(stored, "apps.wx_secret")
    assert ring.decrypt("legacy-plaintext", "apps.wx_secret") == "legacy-plaintext"


@pytest.mark.parametrize("keys", [[], ["short"], ["!!not base64!!"], ["a" * 44]])
def test_bad_keys_are_refused(keys: list[str]) -> None:
    with pytest.raises(EncryptionKeyError):
        Keyring.from_strings(keys)
    key = generate_key()
    with pytest.raises(EncryptionKeyError, match="twice"):
        Keyring.from_strings([key, key])


def test_secrets_are_stored_encrypted_and_read_in_plaintext(runtime: Runtime, make_app) -> None:  # type: ignore[no-untyped-def]
    shop = make_app("shop", wx_appid="wx0123456789abcdef", wx_secret=WX_SECRET)
    with unit_of_work(runtime.sessions, app_id="shop") as db:
        db.add(WxSessionKey(app_id="shop", user_id="u1", session_key="SESSION-KEY-1"))
    [(wx, server)] = raw(runtime.engine, "SELECT wx_secret, server_secret FROM apps")
    [(session_key,)] = raw(runtime.engine, "SELECT session_key FROM wx_session_keys")
    for stored, plain in ((wx, WX_SECRET), (server, shop.server_secret), (session_key, "SESSION-KEY-1")):
        assert isinstance(stored, str) and stored.startswith(f"enc1:{runtime.keyring.current_id}:")
        assert plain not in stored
    with unit_of_work(runtime.sessions) as db:
        app = apps.get(db=db, app_id="shop")
        assert (app.wx_secret, app.server_secret) == (WX_SECRET, shop.server_secret)
    assert runtime.app_cache.get("shop").server_secret == shop.server_secret  # the hot path's copy


def test_each_engine_uses_its_own_keys(runtime: Runtime, make_app, database_url: str) -> None:  # type: ignore[no-untyped-def]
    """No global key: an engine with other keys can't read these secrets, and one without keys refuses."""
    make_app("shop", wx_appid="wx0123456789abcdef", wx_secret=WX_SECRET)
    other = make_engine(database_url, keyring=Keyring.from_strings([generate_key()]))
    bare = make_engine(database_url)
    try:
        with (
            pytest.raises(EncryptionKeyError, match="not among the configured keys"),
            unit_of_work(make_session_factory(other)) as db,
        ):
            db.get(App, "shop")
        with (
            pytest.raises(RuntimeError, match="without a keyring"),
            unit_of_work(make_session_factory(bare)) as db,
        ):
            db.get(App, "shop")
        with unit_of_work(runtime.sessions) as db:  # the runtime's own engine still reads them
            assert apps.get(db=db, app_id="shop").wx_secret == WX_SECRET
    finally:
        other.dispose()
        bare.dispose()


STAFF_COLUMNS = ("staff_members.totp_secret", "staff_members.totp_pending")
MERCHANT_COLUMNS = ("promo_wechatpay_merchants.private_key_pem", "promo_wechatpay_merchants.api_v3_key")


def test_rotation_moves_every_value_to_the_newest_key(database_url: str) -> None:
    old, new = generate_key(), generate_key()
    old_ring, both = Keyring.from_strings([old]), Keyring.from_strings([new, old])
    engine = make_engine(database_url, keyring=old_ring)
    migrate.upgrade(engine)
    with unit_of_work(make_session_factory(engine)) as db:
        for i in range(5):
            apps.create(db=db, app_in=AppCreate(id=f"app{i}", name="x", wx_secret=f"{WX_SECRET}{i}"))
        db.add(WxSessionKey(app_id="app0", user_id="u1", session_key="SESSION-KEY-1"))
    with engine.begin() as conn:  # a value from before encryption
        conn.execute(sa.text("UPDATE apps SET wx_secret = 'plain-legacy-secret' WHERE id = 'app4'"))
    engine.dispose()

    engine = make_engine(database_url, keyring=both)  # every process restarted with the new key first
    try:
        before = crypto.status(engine, Base.metadata)
        assert before["apps.wx_secret"] == {old_ring.current_id: 4, "plaintext": 1}
        assert before["apps.server_secret"] == {old_ring.current_id: 5}
        done = crypto.rotate(engine, both, Base.metadata, batch=2)  # several batches
        # no app has a WeChat Pay merchant here, and no staff member a TOTP secret
        no_merchants = dict.fromkeys([*MERCHANT_COLUMNS, *STAFF_COLUMNS], 0)
        assert done == {
            "apps.wx_secret": 5,
            "apps.server_secret": 5,
            "wx_session_keys.session_key": 1,
            **no_merchants,
        }
        after = crypto.status(engine, Base.metadata)
        assert after == {
            "apps.wx_secret": {both.current_id: 5},
            "apps.server_secret": {both.current_id: 5},
            "wx_session_keys.session_key": {both.current_id: 1},
            **{c: {} for c in (*MERCHANT_COLUMNS, *STAFF_COLUMNS)},
        }
        assert crypto.rotate(engine, both, Base.metadata) == dict.fromkeys(after, 0)  # nothing left to do
    finally:
        engine.dispose()
    newest_only = make_engine(database_url, keyring=Keyring.from_strings([new]))  # the old key can go
    try:
        with unit_of_work(make_session_factory(newest_only)) as db:
            secrets = {a.id: a.wx_secret for a in apps.list_all(db=db)}
            assert secrets == {
                **{f"app{i}": f"{WX_SECRET}{i}" for i in range(4)},
                "app4": "plain-legacy-secret",
            }
            assert db.get(WxSessionKey, "u1").session_key == "SESSION-KEY-1"  # type: ignore[union-attr]
    finally:
        newest_only.dispose()


def test_migration_encrypts_existing_plaintext_and_downgrade_restores_it(database_url: str) -> None:
    ring = Keyring.from_strings([generate_key()])
    engine = make_engine(database_url, keyring=ring)
    try:
        migrate.upgrade(engine, "0001")  # the schema before encryption, with plaintext secrets in it
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO apps (id, name, timezone, wx_appid, wx_secret, server_secret, id_salt, created_at) "
                    "VALUES ('shop', 'Shop', 'Asia/Shanghai', NULL, :wx, 'hmac-secret', 'salt', :now)"
                ),
                {"wx": WX_SECRET, "now": "2026-12-01 00:00:00"},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO wx_session_keys (user_id, session_key, updated_at, app_id) "
                    "VALUES ('u1', 'SESSION-KEY-1', :now, 'shop')"
                ),
                {"now": "2026-12-01 00:00:00"},
            )
        migrate.upgrade(engine)
        [(wx, server)] = raw(engine, "SELECT wx_secret, server_secret FROM apps")
        [(key,)] = raw(engine, "SELECT session_key FROM wx_session_keys")
        assert all(str(v).startswith(f"enc1:{ring.current_id}:") for v in (wx, server, key))
        with unit_of_work(make_session_factory(engine)) as db:
            app = apps.get(db=db, app_id="shop")
            assert (app.wx_secret, app.server_secret) == (WX_SECRET, "hmac-secret")
        migrate.downgrade(engine, "0001")
        assert raw(engine, "SELECT wx_secret, server_secret FROM apps") == [(WX_SECRET, "hmac-secret")]
        assert raw(engine, "SELECT session_key FROM wx_session_keys") == [("SESSION-KEY-1",)]
    finally:
        engine.dispose()


def test_migration_without_a_key_leaves_plaintext_readable(database_url: str) -> None:
    """A bare `alembic upgrade` (no keyring on its engine): values stay plaintext and still read; the next
    rotation encrypts them."""
    bare = make_engine(database_url)
    try:
        migrate.upgrade(bare, "0001")
        with bare.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO apps (id, name, timezone, wx_appid, wx_secret, server_secret, id_salt, created_at) "
                    "VALUES ('shop', 'Shop', 'Asia/Shanghai', NULL, NULL, 'hmac-secret', 'salt', :now)"
                ),
                {"now": "2026-12-01 00:00:00"},
            )
        migrate.upgrade(bare)
        assert raw(bare, "SELECT server_secret FROM apps") == [("hmac-secret",)]
    finally:
        bare.dispose()
    ring = Keyring.from_strings([generate_key()])
    engine = make_engine(database_url, keyring=ring)
    try:
        with unit_of_work(make_session_factory(engine)) as db:
            assert apps.get(db=db, app_id="shop").server_secret == "hmac-secret"
        assert crypto.rotate(engine, ring, Base.metadata)["apps.server_secret"] == 1
        assert str(raw(engine, "SELECT server_secret FROM apps")[0][0]).startswith("enc1:")
    finally:
        engine.dispose()


def test_start_check_covers_every_encrypted_column(database_url: str, settings: Settings) -> None:
    """The start-up check finds, in each EncryptedString column of the schema (the WeChat Pay merchant's
    included), a value under a key that is not configured; a runtime then refuses to start, naming it."""
    old, gone = generate_key(), generate_key()
    ring, lost = Keyring.from_strings([old]), Keyring.from_strings([gone])
    engine = make_engine(database_url, keyring=ring)
    migrate.upgrade(engine)
    with unit_of_work(make_session_factory(engine)) as db:
        apps.create(db=db, app_in=AppCreate(id="shop", name="x", wx_secret=WX_SECRET))
    now = datetime(2026, 12, 1, tzinfo=UTC)
    with unit_of_work(make_session_factory(engine), app_id="shop") as db:
        db.add(WxSessionKey(app_id="shop", user_id="u1", session_key="SESSION-KEY-1"))
        db.add(
            StaffMember(
                id="s1",
                username="boss",
                password_hash="argon2-hash",
                totp_secret="JBSWY3DPEHPK3PXP",
                totp_pending="KRSXG5CTMVRXEZLU",
                created_at=now,
            )
        )
        db.add(
            WeChatPayMerchant(
                app_id="shop",
                mch_id="1900000109",
                merchant_serial="ABCDEF0123",
                private_key_pem="-----BEGIN PRIVATE KEY-----…",
                api_v3_key="0123456789abcdef0123456789abcdef",
                platform_key_id="PUB_KEY_ID_1",
                platform_public_key_pem="-----BEGIN PUBLIC KEY-----…",
                updated_at=now,
            )
        )
    columns = crypto.encrypted_columns(Base.metadata)
    assert {f"{t.name}.{c}" for t, c, _ in columns} >= {
        "apps.wx_secret",
        "apps.server_secret",
        "wx_session_keys.session_key",
        *MERCHANT_COLUMNS,
        *STAFF_COLUMNS,
    }
    try:
        crypto.check_keys(engine, Base.metadata, ring)  # everything under a configured key
        crypto.check_keys(engine, Base.metadata, Keyring.from_strings([generate_key(), old]))  # an older one
        for table, column, label in columns:
            value = sa.type_coerce(table.c[column], sa.String)
            with engine.begin() as conn:
                [kept] = conn.execute(sa.select(value)).scalars().all()
                conn.execute(
                    sa.update(table).values({column: sa.type_coerce(lost.encrypt("x", label), sa.String)})
                )
            with pytest.raises(
                EncryptionKeyError,
                match=re.escape(f"a {label} value is encrypted with key {lost.current_id}"),
            ):
                crypto.check_keys(engine, Base.metadata, ring)
            with engine.begin() as conn:
                conn.execute(sa.update(table).values({column: sa.type_coerce(kept, sa.String)}))
        crypto.check_keys(engine, Base.metadata, ring)

        # A runtime starting with only the old key while the merchant's APIv3 key is under another one.
        with engine.begin() as conn:
            column = sa.type_coerce(WeChatPayMerchant.__table__.c.api_v3_key, sa.String)
            conn.execute(
                sa.update(WeChatPayMerchant.__table__).values(
                    {column: lost.encrypt("0123456789abcdef0123456789abcdef", MERCHANT_COLUMNS[1])}
                )
            )
    finally:
        engine.dispose()
    with pytest.raises(
        EncryptionKeyError,
        match=re.escape(f"a {MERCHANT_COLUMNS[1]} value is encrypted with key {lost.current_id}"),
    ):
        build_runtime(settings.model_copy(update={"encryption_keys": old}))
    build_runtime(settings.model_copy(update={"encryption_keys": f"{old},{gone}"})).close()
