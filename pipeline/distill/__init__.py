"""Distillation: its config, loss terms, the trainers that apply them, the teacher, classify soft labels and
teacher-labelled frames."""
