"""Distillation: its loss terms, the trainers that apply them, the teacher, classify soft labels and
teacher-labelled frames (its recipe section: :mod:`pipeline.recipe.distill`)."""
