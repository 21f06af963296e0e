"""IAM as deployed: every AWS call the functions make, checked against their roles with a real evaluator."""
