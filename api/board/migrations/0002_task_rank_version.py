"""Tasks: `order` becomes `rank` (fractional-index keys), tasks and sprints get `version`.

Existing orders become ranks column by column (a sprint's status, or the whole backlog),
in (order, id) order: a0, a1, … The new columns are unique per column, which the old
`order` never was.
"""

from fractional_indexing import generate_n_keys_between
from django.db import migrations, models

import api.board.ranks


def orders_to_ranks(apps, schema_editor):
    Task = apps.get_model("board", "Task")
    sprint_columns = set(Task.objects.filter(sprint__isnull=False)
                         .values_list("sprint_id", "status"))
    columns = [Task.objects.filter(sprint_id=sprint_id, status=status)
               for sprint_id, status in sorted(sprint_columns)]
    columns.append(Task.objects.filter(sprint__isnull=True))
    for tasks in columns:
        ids = list(tasks.order_by("order", "id").values_list("id", flat=True))
        for task_id, rank in zip(ids, generate_n_keys_between(None, None, len(ids))):
            Task.objects.filter(pk=task_id).update(rank=rank)


def ranks_to_orders(apps, schema_editor):
    Task = apps.get_model("board", "Task")
    columns = {}
    for task in Task.objects.order_by("rank", "id"):
        key = (task.sprint_id, task.status if task.sprint_id else None)
        position = columns.setdefault(key, 0)
        Task.objects.filter(pk=task.pk).update(order=min(position, 32767))
        columns[key] = position + 1


class Migration(migrations.Migration):

    dependencies = [
        ('board', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='task',
            name='rank',
            field=api.board.ranks.RankField(default='', editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='task',
            name='version',
            field=models.PositiveIntegerField(default=1, editable=False),
        ),
        migrations.AddField(
            model_name='sprint',
            name='version',
            field=models.PositiveIntegerField(default=1, editable=False),
        ),
        migrations.RunPython(orders_to_ranks, ranks_to_orders),
        migrations.RemoveField(
            model_name='task',
            name='order',
        ),
        migrations.AlterModelOptions(
            name='task',
            options={'ordering': ('rank', 'id')},
        ),
        migrations.AddConstraint(
            model_name='task',
            constraint=models.UniqueConstraint(condition=models.Q(('sprint__isnull', False)), fields=('sprint', 'status', 'rank'), name='task_rank_unique_in_sprint_column'),
        ),
        migrations.AddConstraint(
            model_name='task',
            constraint=models.UniqueConstraint(condition=models.Q(('sprint__isnull', True)), fields=('rank',), name='task_rank_unique_in_backlog'),
        ),
    ]
