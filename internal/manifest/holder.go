package manifest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// A claim names the process that holds it (host, boot, pid namespace, pid
// and the process's start time), so a later run on the same host and in
// the same pid namespace can prove that the holder is gone (killed between
// its claim and its manifest) and skip the claim at once instead of
// waiting ClaimTimeout. Anywhere else (another pod, another host, a system
// without /proc) nothing is proven and the timeout applies.

const holderPrefix = "holder "

// holderLine describes this process, or is "" when it cannot be described.
func holderLine() string {
	h, err := os.Hostname()
	boot, berr := os.ReadFile("/proc/sys/kernel/random/boot_id")
	ns, nerr := os.Readlink("/proc/self/ns/pid")
	start, serr := startTime(os.Getpid())
	if err != nil || berr != nil || nerr != nil || serr != nil || strings.ContainsAny(h+ns, " \n") {
		return ""
	}
	return fmt.Sprintf("%shost=%s boot=%s pidns=%s pid=%d start=%s", holderPrefix, h, strings.TrimSpace(string(boot)), ns, os.Getpid(), start)
}

// holderGone reports whether the process a claim's holder line names is
// provably not running: it ran on this host, in this boot and pid
// namespace, and its pid is now free or belongs to a process started at
// another time.
func holderGone(line string) bool {
	if !strings.HasPrefix(line, holderPrefix) {
		return false
	}
	f := map[string]string{}
	for _, kv := range strings.Fields(strings.TrimPrefix(line, holderPrefix)) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			f[k] = v
		}
	}
	me := holderLine()
	if me == "" {
		return false
	}
	mine := map[string]string{}
	for _, kv := range strings.Fields(strings.TrimPrefix(me, holderPrefix)) {
		k, v, _ := strings.Cut(kv, "=")
		mine[k] = v
	}
	for _, k := range []string{"host", "boot", "pidns"} {
		if f[k] == "" || f[k] != mine[k] {
			return false
		}
	}
	pid, err := strconv.Atoi(f["pid"])
	if err != nil || pid <= 0 || f["start"] == "" {
		return false
	}
	start, err := startTime(pid)
	if os.IsNotExist(err) {
		return true
	}
	return err == nil && start != f["start"]
}

// startTime is field 22 of /proc/PID/stat: when the process started, in
// clock ticks since boot (with the pid, it names one process).
func startTime(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces and parentheses
	if i < 0 {
		return "", fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 20 {
		return "", fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return fields[19], nil // field 22 overall; fields[0] is field 3 (state)
}
