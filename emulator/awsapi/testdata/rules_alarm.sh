#!/bin/sh
# A local stand-in for a Lambda function, run by iotlab's rules engine for a lambda action: the event
# (the rule's SELECT result) arrives on stdin and AWS_LAMBDA_FUNCTION_NAME names the function. The
# script appends "<function name> <event>" to the file named by its first argument, and fails (exit
# status 2, a message on stderr) when the event says "fail":true.
event=$(cat)
printf '%s %s\n' "$AWS_LAMBDA_FUNCTION_NAME" "$event" >> "$1"
case "$event" in
*'"fail":true'*)
	echo "alarm: the siren is broken" >&2
	exit 2
	;;
esac
