package restore

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/xroad-archiver/archiver/internal/testenv"
)

func testenvBadCreds(env testenv.S3Env) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(env.AccessKey, "wrong-secret", "")
}
