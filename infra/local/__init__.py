"""Candor on one machine: moto as AWS, the local API Gateway, Lambda's instances and event sources."""
