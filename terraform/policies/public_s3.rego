# No public S3 bucket: no public canned ACL, and no public access block that lets public
# ACLs or policies through. Only what the plan creates or updates is checked (a delete
# makes nothing public).
package main

public_acls := {"public-read", "public-read-write"}

# The four settings of aws_s3_bucket_public_access_block; each must be true.
public_access_settings := [
	"block_public_acls",
	"block_public_policy",
	"ignore_public_acls",
	"restrict_public_buckets",
]

# Changes that leave the resource in place with new settings (its `after` is the result).
changes_of_type(type) := [change |
	some change in input.resource_changes
	change.mode == "managed"
	change.type == type
	some action in change.change.actions
	action in {"create", "update"}
]

deny contains violation if {
	some change in changes_of_type("aws_s3_bucket_acl")
	change.change.after.acl in public_acls
	violation := {
		"msg": sprintf("%s makes a bucket %s", [change.address, change.change.after.acl]),
		"resource": change.address,
	}
}

deny contains violation if {
	some change in changes_of_type("aws_s3_bucket_public_access_block")
	some setting in public_access_settings

	# Unset counts as false: the AWS default lets public access through.
	not change.change.after[setting]
	violation := {
		"msg": sprintf("%s sets %s to false: the bucket may become public", [change.address, setting]),
		"resource": change.address,
	}
}
