from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('bidding', '0001_initial')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Notice',
            index=Index(fields=['tender_id', 'published_at']),
        ),
        ops.AddIndex(
            model_name='Tender',
            index=Index(fields=['issued_at', 'id', 'status']),
        ),
    ]
