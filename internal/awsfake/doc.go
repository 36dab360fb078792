// Package awsfake is a wire-level fake of the few EC2, AWS Backup and
// CloudWatch API calls the archiver makes, for tests. It is an httptest
// server that speaks the protocols the real aws-sdk-go-v2 clients send, so a
// test drives the SDK's own serialization, error parsing, retries and waiters:
//
//   - EC2: the EC2 Query protocol (form-encoded POST with Action=, XML
//     responses, errors as <Response><Errors><Error>...).
//   - AWS Backup: REST-JSON (HTTP method + path, JSON bodies, error code in
//     the X-Amzn-Errortype header and __type in the body).
//   - CloudWatch: Smithy RPC v2 CBOR, in AWS Query compatible mode (POST
//     /service/GraniteServiceVersion20100801/operation/<Op>, CBOR bodies, the
//     Query error code in the X-Amzn-Query-Error header).
//
// The server is stateful: snapshots go pending -> completed and Backup jobs
// CREATED -> RUNNING -> COMPLETED as they are polled, and a test can make any
// resource fail or never finish, or inject throttling, 500s and arbitrary API
// errors into the next calls of an operation.
//
// Test-only: it may be imported only by _test.go files, never by code that
// ships. It must not talk to real AWS, must not check SigV4 signatures (it
// only reads the region and service from the credential scope), and must not
// grow operations the archiver does not call; each implemented operation
// follows the real service's documented behaviour, and anything else fails the
// test loudly.
package awsfake
