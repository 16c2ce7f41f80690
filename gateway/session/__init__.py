"""A live session: its one owner (an actor with an inbox), the stages it runs, its journal."""
