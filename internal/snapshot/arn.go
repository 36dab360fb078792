package snapshot

import "strings"

// AccountFromARN takes the account id out of an ARN
// (arn:aws:iam::ACCOUNT:role/NAME, a recovery point's ARN); "" when arn
// is not one.
func AccountFromARN(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) >= 5 && parts[0] == "arn" {
		return parts[4]
	}
	return ""
}
