package awsfake

import (
	backuptypes "github.com/aws/aws-sdk-go-v2/service/backup/types"
)

// outcome is how a resource ends, set by the test before it finishes.
type outcome struct {
	never   bool   // stays pending / RUNNING forever
	state   string // final state when not the happy one
	message string
}

// outcomeKind separates the resources an ID can name.
type outcomeKind int

const (
	snapshotOutcome outcomeKind = iota
	backupOutcome
	restoreOutcome
)

type outcomeKey struct {
	kind outcomeKind
	id   string
}

// FailSnapshot makes a snapshot end in state "error" with StateMessage
// message instead of "completed". id is a snapshot ID, a volume ID (every
// snapshot of that volume) or the ID of a copied snapshot's source. It acts
// on snapshots that have not reached their final state yet.
func (s *Server) FailSnapshot(id, message string) {
	s.setOutcome(snapshotOutcome, id, outcome{state: "error", message: message})
}

// FailBackupJob makes every backup job of resourceARN end in state (FAILED,
// PARTIAL, ABORTED or EXPIRED) with StatusMessage message. A PARTIAL job
// leaves a PARTIAL recovery point; the other states leave none.
func (s *Server) FailBackupJob(resourceARN string, state backuptypes.BackupJobState, message string) {
	s.t.Helper()
	switch state {
	case backuptypes.BackupJobStateFailed, backuptypes.BackupJobStatePartial,
		backuptypes.BackupJobStateAborted, backuptypes.BackupJobStateExpired:
	default:
		s.t.Fatalf("awsfake: FailBackupJob: %q is not a failure state", state)
		return
	}
	s.setOutcome(backupOutcome, resourceARN, outcome{state: string(state), message: message})
}

// FailRestoreJob makes every restore job from recoveryPointARN end in status
// (FAILED or ABORTED) with StatusMessage message.
func (s *Server) FailRestoreJob(recoveryPointARN string, status backuptypes.RestoreJobStatus, message string) {
	s.t.Helper()
	if status != backuptypes.RestoreJobStatusFailed && status != backuptypes.RestoreJobStatusAborted {
		s.t.Fatalf("awsfake: FailRestoreJob: %q is not a failure status", status)
		return
	}
	s.setOutcome(restoreOutcome, recoveryPointARN, outcome{state: string(status), message: message})
}

// NeverComplete keeps what id names pending (snapshots: a snapshot, volume or
// copy-source ID) or RUNNING (backup jobs: a resource ARN; restore jobs: a
// recovery point ARN) however often it is described.
func (s *Server) NeverComplete(id string) {
	for _, k := range []outcomeKind{snapshotOutcome, backupOutcome, restoreOutcome} {
		s.setOutcome(k, id, outcome{never: true})
	}
}

func (s *Server) setOutcome(kind outcomeKind, id string, o outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outcomes[outcomeKey{kind, id}] = o
}

// outcomeLocked returns the outcome for the first of ids that has one.
// s.mu must be held.
func (s *Server) outcomeLocked(kind outcomeKind, ids ...string) outcome {
	for _, id := range ids {
		if o, ok := s.outcomes[outcomeKey{kind, id}]; ok && id != "" {
			return o
		}
	}
	return outcome{}
}

// progress is how far a resource polled n times of polls is, in percent,
// and whether it reached its final state.
func progress(n, polls int, o outcome) (pct int, done bool) {
	if o.never {
		if polls <= 0 {
			return 0, false
		}
		return min(n*100/polls, 99), false
	}
	if n >= polls {
		return 100, true
	}
	return n * 100 / polls, false
}
