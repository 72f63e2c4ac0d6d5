"""The local DynamoDB that `make dev` runs: persistence across restarts and the moto fallback."""

import boto3
import pytest

from chalicelib.store import ADMIN_CLIENT_CONFIG, TABLE_DEFINITION, create_table
from devtools.dynamodb_local import DynamoDBLocal, MotoServer

pytestmark = pytest.mark.integration  # DynamoDB Local, chalice local, Chromium: make test


def _client(endpoint):
    return boto3.client("dynamodb", endpoint_url=endpoint, config=ADMIN_CLIENT_CONFIG)


def test_dev_data_survives_a_restart(tmp_path):
    item = {"pk": {"S": "SESSION#abc"}, "created_at": {"N": "1"}}
    with DynamoDBLocal(data_dir=tmp_path) as database:
        client = _client(database.endpoint)
        assert create_table(client, "dev-table") is True
        client.put_item(TableName="dev-table", Item=item)
    with DynamoDBLocal(data_dir=tmp_path) as database:
        client = _client(database.endpoint)
        assert create_table(client, "dev-table") is False
        assert client.get_item(TableName="dev-table", Key={"pk": item["pk"]})["Item"] == item
        ttl = client.describe_time_to_live(TableName="dev-table")["TimeToLiveDescription"]
        assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_moto_server_stands_in_without_java():
    server = MotoServer().start()
    try:
        client = _client(server.endpoint)
        assert create_table(client, "dev-table") is True
        indexes = client.describe_table(TableName="dev-table")["Table"]["GlobalSecondaryIndexes"]
        assert [index["IndexName"] for index in indexes] == [
            "user_session_keys",
            "user_search",
            "user_events",
            "events_by_time",
            "org_members",
        ]
    finally:
        server.stop()


def test_a_table_created_without_ttl_gets_it_on_the_next_start():
    """A first `make dev` may create the table and time out before enabling TTL."""
    with DynamoDBLocal() as database:
        client = _client(database.endpoint)
        definition = {k: v for k, v in TABLE_DEFINITION.items() if k != "TimeToLiveSpecification"}
        client.create_table(TableName="half-made", **definition)
        assert create_table(client, "half-made") is False
        ttl = client.describe_time_to_live(TableName="half-made")["TimeToLiveDescription"]
        assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_a_table_made_before_events_gets_its_stream_and_indexes_on_the_next_start():
    """A `make dev` table kept in .dynamodb/ from before events: the next start adds them."""
    with DynamoDBLocal() as database:
        client = _client(database.endpoint)
        # Its two indexes of then, and the attribute definitions their keys need alone.
        indexes = TABLE_DEFINITION["GlobalSecondaryIndexes"][:2]
        keys = {"pk"} | {k["AttributeName"] for i in indexes for k in i["KeySchema"]}
        definition = {k: v for k, v in TABLE_DEFINITION.items() if k != "TimeToLiveSpecification"}
        definition["GlobalSecondaryIndexes"] = indexes
        definition["AttributeDefinitions"] = [
            a for a in definition["AttributeDefinitions"] if a["AttributeName"] in keys
        ]
        client.create_table(TableName="old-table", **definition)
        assert "StreamSpecification" not in client.describe_table(TableName="old-table")["Table"]
        assert create_table(client, "old-table") is False
        table = client.describe_table(TableName="old-table")["Table"]
        assert table["StreamSpecification"] == {
            "StreamEnabled": True,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
        assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == {
            i["IndexName"] for i in TABLE_DEFINITION["GlobalSecondaryIndexes"]
        }
