"""The repository, on SQLite and on PostgreSQL: fact logs survive a new process on the
same database, appends are all or nothing, two writers racing for one position get one
commit and one ``SeqConflict``, SQLite files run in WAL mode with foreign keys, and
tokens are kept only as hashes."""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import threading
from hmac import compare_digest
from pathlib import Path

import pytest
import sqlalchemy as sa

from handshake_game.bots import play_table
from handshake_game.game import Scenario, Seat, Variant, replay
from handshake_game.game.facts import StepDone, TableOpened
from handshake_game.game.model import Difficulty
from handshake_game.store import SeqConflict, Store, UnknownTable, hash_token, verify_token
from handshake_game.store import repository as repository_module
from handshake_game.store.models import ClassSession, FactRecord, Player

# The same refusal in each backend's dialect: the database aborts the insert of seq 3.
REFUSE_THIRD = {
    "sqlite": ["CREATE TRIGGER refuse_third BEFORE INSERT ON fact_record "
               "WHEN NEW.seq = 3 BEGIN SELECT RAISE(ABORT, 'disk full'); END"],
    "postgresql": ["CREATE FUNCTION refuse_third() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                   "IF NEW.seq = 3 THEN RAISE EXCEPTION 'disk full' "
                   "USING ERRCODE = 'integrity_constraint_violation'; END IF; RETURN NEW; END $$",
                   "CREATE TRIGGER refuse_third BEFORE INSERT ON fact_record "
                   "FOR EACH ROW EXECUTE FUNCTION refuse_third()"],
}


def _opened(variant: Variant = Variant.TLS12_RSA, scenario: Scenario = Scenario.HONEST) -> TableOpened:
    return TableOpened(variant, scenario, Difficulty.STANDARD, "shop.example")


@pytest.mark.parametrize(("variant", "scenario"), [(Variant.TLS12_RSA, Scenario.KEY_LEAK),
                                                   (Variant.TLS13, Scenario.MITM_SELF_SIGNED),
                                                   (Variant.TLS12_MUTUAL, Scenario.REPLAY)])
def test_a_table_appended_move_by_move_replays_from_a_fresh_store(make_referee, db_url: str, variant: Variant,
                                                                  scenario: Scenario) -> None:
    store = Store(db_url)
    store.upgrade()
    session, _ = store.create_class_session(variant, scenario)
    table_id = store.create_table(_opened(variant, scenario), class_session_id=session.id)
    acknowledged = 1
    batch: list = []

    def on_fact(fact) -> None:
        # A move's facts end with its StepDone; append each move as one batch, as the server will.
        nonlocal acknowledged
        batch.append(fact)
        if isinstance(fact, StepDone):
            acknowledged = store.append_facts(table_id, batch, expected_seq=acknowledged)
            batch.clear()

    run = play_table(variant, scenario, make_referee(3), on_fact=on_fact)
    assert run.facts[0] == _opened(variant, scenario)
    acknowledged = store.append_facts(table_id, batch, expected_seq=acknowledged)
    assert acknowledged == len(run.facts)
    store.dispose()

    reopened = Store(db_url)
    reopened.upgrade()  # already at head: a no-op, as at every server start
    assert reopened.load_facts(table_id) == run.facts
    assert reopened.replay_table(table_id) == run.state
    assert reopened.next_seq(table_id) == len(run.facts)
    assert [t.id for t in reopened.tables(session.id)] == [table_id]
    reopened.dispose()


def test_append_returns_the_next_position_and_checks_the_expected_one(store: Store) -> None:
    table_id = store.create_table(_opened())
    assert store.next_seq(table_id) == 1
    assert store.append_facts(table_id, [StepDone("a"), StepDone("b")]) == 3
    assert store.append_facts(table_id, []) == 3
    with pytest.raises(SeqConflict):
        store.append_facts(table_id, [StepDone("c")], expected_seq=1)
    with pytest.raises(SeqConflict):  # nothing to write, but the caller's length is still wrong
        store.append_facts(table_id, [], expected_seq=4)
    assert store.load_facts(table_id, since=1) == [StepDone("a"), StepDone("b")]
    # No table: without expected_seq (the read finds none), at 0 (the foreign key refuses) or past it.
    for expected_seq in (None, 0, 1):
        with pytest.raises(UnknownTable):
            store.append_facts(table_id + 1, [StepDone("a")], expected_seq=expected_seq)


@pytest.mark.parametrize("planted", ["gap", "overlap"])
def test_a_gap_or_an_overlap_in_the_log_is_refused_and_nothing_is_written(store: Store, planted: str) -> None:
    table_id = store.create_table(_opened())
    assert store.append_facts(table_id, [StepDone("a"), StepDone("b")], expected_seq=1) == 3
    committed = [_opened(), StepDone("a"), StepDone("b")]
    # A caller one fact ahead of the log (its facts would start at 4, leaving 3 empty), or
    # one fact behind it (its first fact would land on the committed 2).
    wrong = 4 if planted == "gap" else 2
    with pytest.raises(SeqConflict) as refused:
        store.append_facts(table_id, [StepDone("c"), StepDone("d")], expected_seq=wrong,
                           scores={Seat.CLIENT: 7})
    assert (refused.value.expected, refused.value.actual) == (wrong, 3)
    assert store.next_seq(table_id) == 3
    assert store.load_facts(table_id) == committed
    assert store.scores(table_id) == {}  # the move's other writes went with it
    assert store.replay_table(table_id) == replay(committed)
    assert store.append_facts(table_id, [StepDone("c")], expected_seq=3) == 4  # the right length still works
    assert store.replay_table(table_id) == replay([*committed, StepDone("c")])


def test_a_batch_that_fails_in_the_database_leaves_nothing(store: Store, backend: str) -> None:
    table_id = store.create_table(_opened())
    # The database refuses the third row of the batch (as a full disk would): rows 1 and 2
    # were already written in the transaction, and must not survive it.
    with store.engine.begin() as connection:
        for statement in REFUSE_THIRD[backend]:
            connection.exec_driver_sql(statement)
    with pytest.raises(sa.exc.IntegrityError, match="disk full"):
        store.append_facts(table_id, [StepDone("a"), StepDone("b"), StepDone("c"), StepDone("d")])
    assert store.load_facts(table_id) == [_opened()]
    assert store.next_seq(table_id) == 1


def test_a_batch_that_fails_in_the_middle_of_encoding_leaves_nothing(store: Store) -> None:
    @dataclasses.dataclass(frozen=True)
    class NotAFact:
        value: object

    table_id = store.create_table(_opened())
    with pytest.raises(TypeError):
        store.append_facts(table_id, [StepDone("a"), StepDone("b"), NotAFact(object())])  # type: ignore[list-item]
    assert store.load_facts(table_id) == [_opened()]
    assert store.append_facts(table_id, [StepDone("a")]) == 2


def test_two_writers_racing_for_one_position_get_one_commit_and_one_conflict(db_url: str,
                                                                            monkeypatch) -> None:
    store = Store(db_url)
    store.upgrade()
    other = Store(db_url)  # as a second server process would (one Store queues its own writers)
    table_id = store.create_table(_opened())
    # Both writers read the log's length (1) before either inserts: the insert itself (its
    # check of the log's end, or the primary key) has to stop the second.
    both_read = threading.Barrier(2, timeout=10)
    reads = itertools.count()
    next_seq = Store._next_seq

    def read_then_wait(session, table_id: int) -> int:
        seq = next_seq(session, table_id)
        if next(reads) < 2:
            both_read.wait()
        return seq

    monkeypatch.setattr(Store, "_next_seq", staticmethod(read_then_wait))
    outcomes: dict[str, object] = {}

    def write(writer: Store, step: str, expected_seq: int | None) -> None:
        try:
            outcomes[step] = writer.append_facts(table_id, [StepDone(step)], expected_seq=expected_seq)
        except Exception as error:
            outcomes[step] = error

    # Both append wherever they saw the end, with no expected_seq of their own.
    writers = [threading.Thread(target=write, args=(store, "a", None)),
               threading.Thread(target=write, args=(other, "b", None))]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()

    committed = [step for step, outcome in outcomes.items() if outcome == 2]
    conflicts = [outcome for outcome in outcomes.values() if isinstance(outcome, SeqConflict)]
    assert len(committed) == 1 and len(conflicts) == 1, outcomes
    assert (conflicts[0].expected, conflicts[0].actual) == (1, 2)
    monkeypatch.undo()
    assert store.load_facts(table_id) == [_opened(), StepDone(committed[0])]
    store.dispose()
    other.dispose()


def test_one_store_queues_its_writers_on_sqlite(tmp_path: Path) -> None:
    # Many threads appending to one table through one Store: each append sees the end the
    # last one left, so none conflicts and the log has every fact once, in some order.
    store = Store(f"sqlite:///{tmp_path / 'queue.db'}")
    store.upgrade()
    table_id = store.create_table(_opened())
    steps = [f"step-{n}" for n in range(40)]
    threads = [threading.Thread(target=store.append_facts, args=(table_id, [StepDone(step)]))
               for step in steps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    facts = store.load_facts(table_id)
    assert facts[0] == _opened() and sorted(f.step for f in facts[1:]) == sorted(steps)
    store.dispose()


def test_timestamps_are_written_and_read_in_utc(db_url: str, backend: str) -> None:
    if backend == "postgresql":  # a server whose zone is far from UTC: the Store must not care
        engine = sa.create_engine(db_url)
        with engine.begin() as connection:
            name = connection.exec_driver_sql("SELECT current_database()").scalar()
            connection.exec_driver_sql(f"ALTER DATABASE \"{name}\" SET timezone = 'Pacific/Kiritimati'")
        engine.dispose()
    store = Store(db_url)
    store.upgrade()
    before = datetime.datetime.now(datetime.UTC)
    table_id = store.create_table(_opened())
    with store.session() as session:
        created = session.get(FactRecord, (table_id, 0)).created_at  # type: ignore[union-attr]
    store.dispose()
    if backend == "postgresql":  # timestamptz, read in the session's zone, which the Store sets to UTC
        assert created.utcoffset() == datetime.timedelta(0)
    else:  # SQLite keeps no zone: the naive value is UTC
        assert created.tzinfo is None
        created = created.replace(tzinfo=datetime.UTC)
    assert before - datetime.timedelta(seconds=1) <= created <= datetime.datetime.now(datetime.UTC)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_file_database_runs_in_wal_mode_with_foreign_keys(db_url: str) -> None:
    store = Store(db_url)
    store.upgrade()
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    with pytest.raises(sa.exc.IntegrityError), store.session() as session:
        session.add(FactRecord(table_id=999, seq=0, type="StepDone", payload="{}"))
        session.commit()
    store.dispose()


def test_tokens_are_stored_only_as_hashes_and_verify(store: Store, monkeypatch) -> None:
    class_session, instructor_token = store.create_class_session(Variant.TLS13,
                                                                        instructor_token="s3cret")
    player, player_token = store.create_player("ada", class_session.id)
    solo, solo_token = store.create_player("grace")
    assert instructor_token == "s3cret" and solo.class_session_id is None
    assert player_token != solo_token and len(player_token) >= 32

    with store.engine.connect() as connection:
        dump = "\n".join(str(row) for table in ("class_session", "player")
                         for row in connection.exec_driver_sql(f"SELECT * FROM {table}"))
    for token in (instructor_token, player_token, solo_token):
        assert token not in dump
    assert hash_token(player_token) in dump and hash_token(player_token) != player_token

    compared: list[tuple[bytes, bytes]] = []

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return compare_digest(a, b)

    monkeypatch.setattr(repository_module.hmac, "compare_digest", spy)
    assert class_session.id is not None and player.id is not None
    assert store.verify_instructor(class_session.id, "s3cret")
    assert not store.verify_instructor(class_session.id, "s3creT")
    assert store.verify_player(player.id, player_token)
    assert not store.verify_player(player.id, solo_token)
    assert not store.verify_player(player.id + 100, player_token)
    assert len(compared) == 4  # every check that found a record went through compare_digest
    assert verify_token("t", hash_token("t")) and not verify_token("t", hash_token("u"))

    found = store.class_session_by_code(class_session.join_code)
    assert isinstance(found, ClassSession) and found.id == class_session.id
    assert isinstance(solo, Player)


def test_seats_scores_and_lesson_progress(make_referee, store: Store) -> None:
    run = play_table(Variant.TLS12_ECDHE, Scenario.PASSIVE, make_referee(5))
    table_id = store.create_table(run.facts[0])  # type: ignore[arg-type]
    store.append_facts(table_id, run.facts[1:])
    player, _ = store.create_player("ada")
    assert player.id is not None
    store.assign_seat(table_id, Seat.CLIENT, player_id=player.id)
    for seat in (Seat.SERVER, Seat.CA, Seat.EAVESDROPPER):
        store.assign_seat(table_id, seat, bot_kind="honest")
    store.assign_seat(table_id, Seat.EAVESDROPPER, bot_kind="attacker")  # the instructor swaps it
    seats = store.seats(table_id)
    assert seats[Seat.CLIENT].player_id == player.id and seats[Seat.EAVESDROPPER].bot_kind == "attacker"
    with pytest.raises(ValueError):
        store.assign_seat(table_id, Seat.CA)

    state = store.replay_table(table_id)
    assert state == replay(run.facts)
    store.save_scores(table_id, dict(state.scores))
    assert store.scores(table_id) == dict(run.state.scores)

    store.save_lesson_progress(player.id, "client-hello", {"q1": True}, completed=False)
    store.save_lesson_progress(player.id, "client-hello", {"q1": True, "q2": False}, completed=True)
    progress = store.lesson_progress(player.id)
    assert list(progress) == ["client-hello"] and progress["client-hello"].completed
