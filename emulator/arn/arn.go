// Package arn builds and parses the ARNs of AWS IoT resources. It is pure.
package arn

import (
	"fmt"
	"strings"
)

// ARN is arn:<partition>:<service>:<region>:<account>:<resource>; for IoT the resource is "<type>/<name>".
type ARN struct {
	Partition, Service, Region, Account string
	Type, Name                          string
}

// IoT returns the ARN of an IoT resource. AWS: iot-action-resources
func IoT(region, account, typ, name string) string {
	return "arn:aws:iot:" + region + ":" + account + ":" + typ + "/" + name
}

func (a ARN) String() string {
	return "arn:" + a.Partition + ":" + a.Service + ":" + a.Region + ":" + a.Account + ":" + a.Type + "/" + a.Name
}

// Parse splits an IoT resource ARN. The name may itself contain '/', as topic ARNs do.
func Parse(s string) (ARN, error) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] == "" {
		return ARN{}, fmt.Errorf("arn: %q is not an ARN", s)
	}
	a := ARN{Partition: parts[1], Service: parts[2], Region: parts[3], Account: parts[4]}
	typ, name, ok := strings.Cut(parts[5], "/")
	if !ok || typ == "" {
		return ARN{}, fmt.Errorf("arn: %q has no resource type", s)
	}
	a.Type, a.Name = typ, name
	return a, nil
}
