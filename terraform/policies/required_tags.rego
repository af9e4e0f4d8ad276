# Required tags: every taggable resource the plan creates or updates carries an owner and a
# cost centre. A resource is taggable when its planned attributes have `tags` (AWS and most
# providers); tags the provider adds itself (`default_tags`, seen in `tags_all`) count too.
# In its own namespace: stepform.yaml lists it under the set's `namespaces`.
package tags

required := ["owner", "cost-center"]

# The tags a change leaves on the resource: `tags` and `tags_all` together (either may be
# null, or unknown until apply and then absent from `after`).
planned_tags(after) := object.union(tag_map(after, "tags"), tag_map(after, "tags_all"))

tag_map(after, attribute) := tags if {
	tags := after[attribute]
	is_object(tags)
} else := {}

taggable_changes contains change if {
	some change in input.resource_changes
	change.mode == "managed"
	some action in change.change.actions
	action in {"create", "update"}
	"tags" in object.keys(change.change.after)
}

deny contains violation if {
	some change in taggable_changes
	tags := planned_tags(change.change.after)
	missing := [tag | some tag in required; not tags[tag]]
	count(missing) > 0
	violation := {
		"msg": sprintf("%s is missing the required tags: %s", [change.address, concat(", ", missing)]),
		"resource": change.address,
	}
}
