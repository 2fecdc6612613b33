"""The HTTP routes of the running application, with a real client."""
