from exchange_common.topics import ALL_TOPICS, TOPIC_KEYS, Topic


def test_every_topic_is_versioned_and_keyed() -> None:
    assert len(ALL_TOPICS) == 6
    for topic in ALL_TOPICS:
        assert topic.endswith(".v1")
        assert TOPIC_KEYS[topic] in {"symbol", "account_id"}
    assert TOPIC_KEYS[Topic.LEDGER_BALANCE_EVENTS] == "account_id"
