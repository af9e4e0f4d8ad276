# No destroy of stateful resource types in protected environments.
#
# A delete or a replace (Terraform's ["delete", "create"] or ["create", "delete"]) of one of
# the types below is denied where stepform.yaml marks the environment `protected: true`, and
# only warned about elsewhere: losing a database or a fixed timestamp cannot be undone by
# applying again. Stepform passes the run as data.stepform { environment, project, commit,
# protected }; the plan (`terraform show -json`) is the input.
package main

# The types this policy guards. Edit the list for your stack.
protected_types := {
	"aws_db_instance",
	"aws_dynamodb_table",
	"aws_kms_key",
	"aws_s3_bucket",
	"terraform_data",
	"time_static",
}

# Every planned change that removes an existing object of a guarded type.
guarded_destroys contains change if {
	some change in input.resource_changes
	change.mode == "managed"
	change.type in protected_types
	"delete" in change.change.actions
}

# "replaced" when Terraform creates it again, "destroyed" when it is gone for good.
destroy_verb(change) := "replaced" if {
	"create" in change.change.actions
} else := "destroyed"

deny contains violation if {
	data.stepform.protected
	some change in guarded_destroys
	violation := {
		"msg": sprintf(
			"%s would be %s in protected environment %s",
			[change.address, destroy_verb(change), data.stepform.environment],
		),
		"resource": change.address,
	}
}

# Outside protected environments (or without Stepform's data) a destroy is only reported.
warn contains violation if {
	not data.stepform.protected
	some change in guarded_destroys
	violation := {
		"msg": sprintf("%s would be %s", [change.address, destroy_verb(change)]),
		"resource": change.address,
	}
}
