package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"mfagate/mfa"
)

const crashChildEnv = "MFAGATE_SQLITE_CRASH_CHILD"

// A process killed (SIGKILL) while many writes are in flight loses none of
// the writes whose Update had returned: a caller hears of success only after
// the COMMIT holding its write.
func TestKillLosesNoAcknowledgedWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "m.db")
	db, err := Open(t.Context(), path) // the schema exists before the child starts
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		id, ok := strings.CutPrefix(sc.Text(), "ack ")
		if !ok {
			continue
		}
		acked = append(acked, id)
		if len(acked) == 3000 {
			cmd.Process.Kill()
		}
	}
	cmd.Wait()
	if len(acked) < 3000 {
		t.Fatalf("the child acknowledged %d writes before it ended, want 3000", len(acked))
	}
	db, err = Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got := users(t, db, acked...)
	for _, id := range acked {
		if !got[id] {
			t.Errorf("write %s was acknowledged before the kill but is not stored", id)
		}
	}
	t.Logf("%d writes acknowledged before the kill", len(acked))
}

// TestCrashChild is the process TestKillLosesNoAcknowledgedWrite kills: 32
// writers each print "ack <id>" once the Update storing user <id> returned.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("run by TestKillLosesNoAcknowledgedWrite")
	}
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Go(func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("w%02d-%06d", w, i)
				if err := db.Update(context.Background(), func(tx mfa.Tx) error { return putUser(id)(tx) }); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "ack %s\n", id)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}
