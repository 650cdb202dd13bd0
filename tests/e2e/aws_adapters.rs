//! The AWS adapters (S3 blob store, SQS queue, Secrets Manager source) against moto server, each
//! test on its own uniquely named bucket, queue or secret.

use std::time::Duration;

use calsync_core::adapters::{
    BlobStore, Queue, QueueError, QueueName, SecretError, SecretSource,
    blobs::S3BlobStore,
    queue::{MAX_BODY_BYTES, SqsQueue},
    secrets::SecretsManagerSource,
};
use calsync_tests::moto;
use secrecy::ExposeSecret;

// --- S3 ---

#[tokio::test]
async fn s3_blob_store_puts_gets_lists_and_deletes_an_object_on_moto() {
    let sdk = moto::sdk_config().await;
    let bucket = moto::create_bucket(&sdk).await;
    let store = S3BlobStore::new(&sdk, bucket, None);

    store.put("backups/2026-01-02/events.jsonl", b"second".to_vec()).await.expect("put");
    store.put("backups/2026-01-01/events.jsonl", b"first!".to_vec()).await.expect("put");
    store.put("other/file", b"x".to_vec()).await.expect("put");

    assert_eq!(store.get("backups/2026-01-01/events.jsonl").await.expect("get").as_deref(), Some(&b"first!"[..]));
    let listed = store.list("backups/").await.expect("list");
    let keys: Vec<_> = listed.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(keys, ["backups/2026-01-01/events.jsonl", "backups/2026-01-02/events.jsonl"]);
    assert_eq!(listed[0].size, 6);
    assert!(listed[0].last_modified > chrono::Utc::now() - chrono::Duration::minutes(5));

    store.delete("backups/2026-01-01/events.jsonl").await.expect("delete");
    assert_eq!(store.get("backups/2026-01-01/events.jsonl").await.expect("get"), None);
    store.delete("backups/2026-01-01/events.jsonl").await.expect("deleting a missing object is not an error");
    assert_eq!(store.list("backups/").await.expect("list").len(), 1);
}

#[tokio::test]
async fn s3_blob_store_reads_a_missing_object_as_none_on_moto() {
    let sdk = moto::sdk_config().await;
    let bucket = moto::create_bucket(&sdk).await;
    let store = S3BlobStore::new(&sdk, bucket, None);

    assert_eq!(store.get("never/written").await.expect("get"), None);
    assert!(store.list("").await.expect("list").is_empty());
}

#[tokio::test]
async fn s3_blob_store_asks_for_sse_kms_with_the_configured_key_on_moto() {
    let sdk = moto::sdk_config().await;
    let bucket = moto::create_bucket(&sdk).await;
    let key_id = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000001";
    let store = S3BlobStore::new(&sdk, bucket.clone(), Some(key_id.to_owned()));

    store.put("backups/encrypted.bin", b"calendar data".to_vec()).await.expect("put with SSE-KMS");

    let head = moto::s3_client(&sdk)
        .head_object()
        .bucket(&bucket)
        .key("backups/encrypted.bin")
        .send()
        .await
        .expect("head object");
    assert_eq!(head.server_side_encryption(), Some(&aws_sdk_s3::types::ServerSideEncryption::AwsKms));
    assert_eq!(head.ssekms_key_id(), Some(key_id));
    assert_eq!(store.get("backups/encrypted.bin").await.expect("get").as_deref(), Some(&b"calendar data"[..]));
}

#[tokio::test]
async fn s3_blob_store_lists_past_the_first_page_of_a_thousand_keys_on_moto() {
    let sdk = moto::sdk_config().await;
    let bucket = moto::create_bucket(&sdk).await;
    let client = moto::s3_client(&sdk);
    // One page holds 1000 keys. They are written directly by a few parallel writers: enough to
    // be quick, few enough not to swamp moto's threads.
    const KEYS: usize = 1005;
    const WRITERS: usize = 8;
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..WRITERS {
        let (client, bucket) = (client.clone(), bucket.clone());
        writers.spawn(async move {
            for i in (writer..KEYS).step_by(WRITERS) {
                client.put_object().bucket(&bucket).key(format!("many/{i:04}")).send().await.expect("put object");
            }
        });
    }
    while let Some(result) = writers.join_next().await {
        result.expect("writer task");
    }
    let store = S3BlobStore::new(&sdk, bucket, None);

    let listed = store.list("many/").await.expect("list");

    assert_eq!(listed.len(), KEYS);
    assert_eq!(listed[0].key, "many/0000");
    assert_eq!(listed[KEYS - 1].key, format!("many/{:04}", KEYS - 1));
}

#[tokio::test]
async fn s3_blob_store_refuses_an_invalid_key_on_moto() {
    let sdk = moto::sdk_config().await;
    let bucket = moto::create_bucket(&sdk).await;
    let store = S3BlobStore::new(&sdk, bucket, None);

    let result = store.put("../escape", b"x".to_vec()).await;

    assert!(matches!(result, Err(calsync_core::adapters::BlobError::InvalidKey(_))));
}

// --- SQS ---

async fn sqs_queue(visibility_timeout_secs: u32) -> SqsQueue {
    let sdk = moto::sdk_config().await;
    let sync_url = moto::create_queue(&sdk, visibility_timeout_secs).await;
    let notify_url = moto::create_queue(&sdk, visibility_timeout_secs).await;
    SqsQueue::new(&sdk, sync_url, notify_url)
}

#[tokio::test]
async fn sqs_queue_sends_receives_and_deletes_a_message_on_moto() {
    let queue = sqs_queue(30).await;

    queue.send(QueueName::Sync, r#"{"job":"sync"}"#.into(), None).await.expect("send");
    let received = queue.receive(QueueName::Sync, 10, Duration::from_secs(2)).await.expect("receive");

    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body, r#"{"job":"sync"}"#);
    assert_eq!(received[0].receive_count, 1);
    assert!(!received[0].message_id.is_empty());
    assert!(queue.receive(QueueName::Notify, 10, Duration::ZERO).await.expect("receive").is_empty());
    queue.delete(QueueName::Sync, &received[0].receipt).await.expect("delete");
}

#[tokio::test]
async fn sqs_queue_redelivers_an_undeleted_message_after_its_visibility_timeout_on_moto() {
    let queue = sqs_queue(1).await;
    queue.send(QueueName::Notify, "push".into(), None).await.expect("send");
    let first = queue.receive(QueueName::Notify, 1, Duration::from_secs(2)).await.expect("receive");
    assert_eq!(first.len(), 1);

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = queue.receive(QueueName::Notify, 1, Duration::from_secs(5)).await.expect("receive");

    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message_id, first[0].message_id);
    assert_eq!(again[0].receive_count, 2);
    queue.delete(QueueName::Notify, &again[0].receipt).await.expect("delete");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(queue.receive(QueueName::Notify, 1, Duration::ZERO).await.expect("receive").is_empty());
}

#[tokio::test]
async fn sqs_queue_keeps_a_delayed_message_hidden_until_its_delay_has_passed_on_moto() {
    let queue = sqs_queue(30).await;

    queue.send(QueueName::Sync, "later".into(), Some(Duration::from_secs(2))).await.expect("send");

    assert!(queue.receive(QueueName::Sync, 1, Duration::ZERO).await.expect("receive").is_empty());
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let received = queue.receive(QueueName::Sync, 1, Duration::from_secs(5)).await.expect("receive");
    assert_eq!(received.len(), 1);
}

#[tokio::test]
async fn sqs_queue_refuses_a_body_over_the_size_limit_on_moto() {
    let queue = sqs_queue(30).await;

    let result = queue.send(QueueName::Sync, "x".repeat(MAX_BODY_BYTES + 1), None).await;

    assert!(matches!(result, Err(QueueError::TooLarge(_))));
}

#[tokio::test]
async fn sqs_queue_reports_a_missing_queue_without_the_message_body_on_moto() {
    let sdk = moto::sdk_config().await;
    let missing = format!("{}/123456789012/{}", moto::moto_url(), moto::unique_name("missing"));
    let queue = SqsQueue::new(&sdk, missing.clone(), missing);

    let error = queue.send(QueueName::Sync, "body-with-private-data".into(), None).await.expect_err("no queue");

    assert!(matches!(error, QueueError::Service(_)));
    assert!(!format!("{error} {error:?}").contains("body-with-private-data"));
}

// --- Secrets Manager ---

#[tokio::test]
async fn secrets_manager_source_reads_a_string_secret_on_moto() {
    let sdk = moto::sdk_config().await;
    let name = moto::unique_name("calsync/keyring");
    aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(&name)
        .secret_string(r#"{"keys":["k1"]}"#)
        .send()
        .await
        .expect("create secret");
    let source = SecretsManagerSource::new(&sdk);

    let value = source.get(&name).await.expect("get secret");

    assert_eq!(value.expose_secret(), r#"{"keys":["k1"]}"#);
}

#[tokio::test]
async fn secrets_manager_source_reports_a_missing_secret_as_not_found_on_moto() {
    let sdk = moto::sdk_config().await;
    let name = moto::unique_name("calsync/absent");
    let source = SecretsManagerSource::new(&sdk);

    let result = source.get(&name).await;

    assert!(matches!(result, Err(SecretError::NotFound(id)) if id == name));
}

#[tokio::test]
async fn secrets_manager_source_refuses_a_binary_secret_without_showing_it_on_moto() {
    let sdk = moto::sdk_config().await;
    let name = moto::unique_name("calsync/binary");
    aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(&name)
        .secret_binary(aws_sdk_secretsmanager::primitives::Blob::new(b"hunter2".to_vec()))
        .send()
        .await
        .expect("create secret");
    let source = SecretsManagerSource::new(&sdk);

    let error = source.get(&name).await.expect_err("binary secrets are not supported");

    assert!(matches!(&error, SecretError::Unavailable(_, reason) if reason.contains("binary")));
    assert!(!format!("{error} {error:?}").contains("hunter2"));
}

#[tokio::test]
async fn s3_blob_store_streams_a_large_object_as_a_multipart_upload_with_sse_kms_on_moto() {
    let sdk = moto::sdk_config().await;
    let bucket = moto::create_bucket(&sdk).await;
    let key_id = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000001";
    let store = S3BlobStore::new(&sdk, bucket.clone(), Some(key_id.to_owned()));
    let client = moto::s3_client(&sdk);
    // 20 MiB in 1 MiB pieces: three parts of 8, 8 and 4 MiB.
    let piece: Vec<u8> = (0..(1 << 20)).map(|i: u32| (i % 253) as u8).collect();

    let mut upload = store.upload("backups/2026-01-01/events.jsonl.gz").await.expect("upload");
    for _ in 0..20 {
        upload.write(&piece).await.expect("write");
    }
    let pending = client.list_multipart_uploads().bucket(&bucket).send().await.expect("list uploads");
    assert_eq!(pending.uploads().len(), 1, "a multipart upload is under way");
    assert!(store.list("backups/").await.expect("list").is_empty(), "nothing is visible before finish");
    assert_eq!(upload.finish().await.expect("finish"), 20 << 20);

    let head = client.head_object().bucket(&bucket).key("backups/2026-01-01/events.jsonl.gz").send().await.unwrap();
    assert_eq!(head.server_side_encryption(), Some(&aws_sdk_s3::types::ServerSideEncryption::AwsKms));
    assert_eq!(head.ssekms_key_id(), Some(key_id));
    assert_eq!(head.content_length(), Some(20 << 20));
    let mut reader = store.open("backups/2026-01-01/events.jsonl.gz").await.expect("open").expect("exists");
    let mut read = Vec::new();
    while let Some(chunk) = reader.next_chunk().await.expect("read") {
        read.extend_from_slice(&chunk);
    }
    assert_eq!(read.len(), 20 << 20);
    assert!(read.chunks(1 << 20).all(|c| c == &piece[..]));
    assert!(client.list_multipart_uploads().bucket(&bucket).send().await.unwrap().uploads().is_empty());
}

#[tokio::test]
async fn s3_blob_store_aborts_an_unfinished_multipart_upload_on_moto() {
    let sdk = moto::sdk_config().await;
    let bucket = moto::create_bucket(&sdk).await;
    let store = S3BlobStore::new(&sdk, bucket.clone(), None);
    let client = moto::s3_client(&sdk);

    let mut upload = store.upload("backups/2026-01-01/big").await.expect("upload");
    upload.write(&vec![7u8; 9 << 20]).await.expect("write past one part");
    upload.abort().await;

    assert!(client.list_multipart_uploads().bucket(&bucket).send().await.unwrap().uploads().is_empty());
    assert!(store.list("").await.expect("list").is_empty());
    assert!(store.open("backups/2026-01-01/big").await.expect("open").is_none());
}

#[tokio::test]
async fn s3_blob_store_writes_a_small_streamed_object_in_one_request_on_moto() {
    let sdk = moto::sdk_config().await;
    let bucket = moto::create_bucket(&sdk).await;
    let store = S3BlobStore::new(&sdk, bucket, None);

    let mut upload = store.upload("backups/2026-01-01/small").await.expect("upload");
    upload.write(b"one ").await.expect("write");
    upload.write(b"two").await.expect("write");
    assert_eq!(upload.finish().await.expect("finish"), 7);

    assert_eq!(store.get("backups/2026-01-01/small").await.expect("get").as_deref(), Some(&b"one two"[..]));
}
