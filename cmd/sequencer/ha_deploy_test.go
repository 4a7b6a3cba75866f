package main

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestTheHAComposeFileRunsThreeDaemonsOnAThreeMemberEtcdWithFlagsRunKnows
// keeps deploy/ha/docker-compose.yaml in step with `sequencer run`.
func TestTheHAComposeFileRunsThreeDaemonsOnAThreeMemberEtcdWithFlagsRunKnows(t *testing.T) {
	b, err := os.ReadFile("../../deploy/ha/docker-compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("compose file: %v", err)
	}
	var etcd, daemons []string
	members := map[string]bool{}
	for name, s := range c.Services {
		switch {
		case strings.Contains(s.Image, "etcd"):
			etcd = append(etcd, name)
			if !strings.Contains(s.Environment["ETCD_INITIAL_CLUSTER"], name+"=http://"+name+":2380") {
				t.Errorf("%s is not in its own initial cluster %q", name, s.Environment["ETCD_INITIAL_CLUSTER"])
			}
		case len(s.Command) > 0:
			daemons = append(daemons, name)
			checkRunFlags(t, "deploy/ha/docker-compose.yaml "+name, s.Command)
			args := strings.Join(s.Command, " ")
			if !strings.Contains(args, "--etcd http://etcd1:2379,http://etcd2:2379,http://etcd3:2379") {
				t.Errorf("%s does not list every etcd member: %s", name, args)
			}
			i := strings.Index(args, "--member ")
			if i < 0 {
				t.Errorf("%s has no --member", name)
				continue
			}
			m := strings.Fields(args[i:])[1]
			if members[m] {
				t.Errorf("two daemons are member %s", m)
			}
			members[m] = true
		}
	}
	if len(etcd) != 3 || len(daemons) != 3 {
		t.Errorf("%d etcd members and %d daemons, want 3 and 3", len(etcd), len(daemons))
	}
}
